"""What operators (through the control socket) and signals ask of the engine, and the shape of its replies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

Reply = dict[str, Any]  # JSON-ready: {"ok": bool, ...}


@dataclass(frozen=True)
class Status:
    """Report every venue."""


@dataclass(frozen=True)
class Start:
    venues: tuple[str, ...]


@dataclass(frozen=True)
class Stop:
    venues: tuple[str, ...]


@dataclass(frozen=True)
class Restart:
    venues: tuple[str, ...]


@dataclass(frozen=True)
class Reload:
    """Apply the config at `path`, or at the last path loaded when None (SIGHUP)."""

    path: Path | None = None


@dataclass(frozen=True)
class Shutdown:
    """Stop every archiver, then let run() return."""


Command = Status | Start | Stop | Restart | Reload | Shutdown
