"""What operators (through the control socket) and signals ask of the engine, and the shape of its replies.

One module per command carries it out (`status`, `start`, `stop`, `restart`, `reload`,
`shutdown`) on the engine's thread, through the `Fleet` interface below.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from supervisor_app.config.model import FleetConfig, VenueConfig
    from supervisor_app.supervision.render import RenderedFleet
    from supervisor_app.supervision.venue import Event, Venue
    from supervisor_app.supervision.venue_records import VenueRecords

Reply = dict[str, Any]  # JSON-ready: {"ok": bool, ...}


@dataclass(frozen=True)
class Status:
    """Report every venue."""


@dataclass(frozen=True)
class Start:
    venues: tuple[str, ...]
    every: bool = False  # --all: every enabled venue


@dataclass(frozen=True)
class Stop:
    venues: tuple[str, ...]
    every: bool = False  # --all: every enabled venue


@dataclass(frozen=True)
class Restart:
    venues: tuple[str, ...]
    every: bool = False  # --all: every enabled venue


@dataclass(frozen=True)
class Reload:
    """Apply the config at `path`, or at the last path loaded when None (SIGHUP)."""

    path: Path | None = None


@dataclass(frozen=True)
class Shutdown:
    """Stop every archiver, then let run() return."""


Command = Status | Start | Stop | Restart | Reload | Shutdown


class Fleet(Protocol):
    """What a command may see and do of the running fleet (the Engine, on its own thread)."""

    log: Any

    @property
    def config(self) -> FleetConfig: ...
    @property
    def rendered(self) -> RenderedFleet: ...
    @property
    def config_path(self) -> Path: ...
    @property
    def venues(self) -> Mapping[str, Venue]: ...
    @property
    def shutting_down(self) -> bool: ...

    def decide(self, name: str, event: Event) -> None:
        """Apply one event to one venue's state machine and carry out what it decides."""

    @property
    def records(self) -> VenueRecords: ...

    def fingerprint(self, name: str) -> str:
        """A digest of what reaches this venue's archiver, to remember an operator's stop by."""

    def add_venue(self, config: VenueConfig) -> None:
        """Make supervisord know a new venue and start it."""

    def wait_for(self, kind: str, names: tuple[str, ...], future: Future[Reply] | None, **summary: Any) -> None:
        """Answer `future` once these venues have settled (or the settle deadline passed)."""

    def describe(self, venue: Venue) -> Reply:
        """One venue's status row."""

    def fleet_info(self) -> Reply:
        """Who runs the fleet (pids, config, state directory)."""

    def begin_shutdown(self) -> None: ...

    def prepare(self, path: Path) -> tuple[FleetConfig, RenderedFleet]:
        """Validate and render a config file (ConfigError, OSError)."""

    def install(self, config: FleetConfig, rendered: RenderedFleet, path: Path) -> object:
        """Write a rendered config where supervisord reads it."""

    def switch_config(self, config: FleetConfig, rendered: RenderedFleet, path: Path) -> None:
        """Make supervisord read the installed config and adopt it (SupervisordError: nothing changed)."""


def answer(future: Future[Reply] | None, reply: Reply) -> None:
    """Hand `reply` to whoever waits on `future` (nobody, for a signal's command)."""
    if future is not None and not future.done():
        future.set_result(reply)
