"""The typed fleet configuration: frozen dataclasses with every default applied.

Nothing outside `fleet.loading` reads raw YAML dicts; everything else reads these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

MIB = 1024 * 1024

Codec = Literal["zstd", "none"]


@dataclass(frozen=True)
class CompressionPolicy:
    """How a venue's sealed segments are stored in the archive."""

    codec: Codec = "zstd"
    level: int = 3
    block_size: int = MIB
    keep_raw: bool = False  # also keep the uncompressed .q beside the .q.zst


@dataclass(frozen=True)
class ArchiverSettings:
    """Settings passed to each venue's chronicle-raw-archiver."""

    poll_ms: int = 1000
    reader_name: str = "raw-archiver"


@dataclass(frozen=True)
class RestartPolicy:
    """How the supervisor restarts a crashed archiver."""

    initial_delay_s: float = 1.0
    max_delay_s: float = 60.0
    healthy_after_s: float = 60.0  # a child running this long resets the backoff


@dataclass(frozen=True)
class LogSettings:
    """Where per-venue JSON logs go: files with rotation, or stdout when `directory` is None."""

    directory: Path | None = None
    max_bytes: int = 50 * MIB
    backups: int = 10


@dataclass(frozen=True)
class SupervisorSettings:
    """The supervisor's own settings."""

    state_dir: Path
    logs: LogSettings = field(default_factory=LogSettings)
    stop_timeout_s: float = 30.0  # how long an archiver gets after SIGTERM


@dataclass(frozen=True)
class BusSource:
    """A named bus root; a venue on it reads `<root>/streams/raw/<venue>/queue`."""

    name: str
    root: Path

    def queue_dir(self, venue: str) -> Path:
        return self.root / "streams" / "raw" / venue / "queue"


@dataclass(frozen=True)
class VenueConfig:
    """One venue with the fleet defaults and its own overrides merged."""

    name: str
    queue_dir: Path  # absolute
    source: str  # "bus:<name>" or "queue" (given outright), for messages
    enabled: bool = True
    compression: CompressionPolicy = field(default_factory=CompressionPolicy)
    archiver: ArchiverSettings = field(default_factory=ArchiverSettings)


@dataclass(frozen=True)
class FleetConfig:
    """A whole fleet declaration, resolved: absolute paths, defaults applied."""

    path: Path  # the YAML file it came from
    archive_root: Path
    venues: tuple[VenueConfig, ...]
    supervisor: SupervisorSettings
    buses: tuple[BusSource, ...] = ()
    compression: CompressionPolicy = field(default_factory=CompressionPolicy)
    archiver: ArchiverSettings = field(default_factory=ArchiverSettings)
    restart: RestartPolicy = field(default_factory=RestartPolicy)

    @property
    def enabled_venues(self) -> tuple[VenueConfig, ...]:
        return tuple(v for v in self.venues if v.enabled)

    def venue(self, name: str) -> VenueConfig:
        for v in self.venues:
            if v.name == name:
                return v
        raise KeyError(name)
