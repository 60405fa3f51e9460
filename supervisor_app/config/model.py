"""The typed fleet configuration: frozen dataclasses with every default applied.

Only `config.loading` and `config.resolve` read raw YAML data; everything else reads these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from supervisor_app.archive_root import ArchiveRoot, StoreSettings

MIB = 1024 * 1024

Codec = Literal["zstd", "none"]


@dataclass(frozen=True)
class CompressionPolicy:
    """How a venue's sealed segments are stored in the archive."""

    codec: Codec = "zstd"
    level: int = 3
    block_size: int = MIB
    keep_raw: bool = False  # also keep the uncompressed .q beside the .q.zst


IoClass = Literal["idle", "best-effort"]


@dataclass(frozen=True)
class ResourceLimits:
    """How much of the host an archiver may take from the feed handlers beside it."""

    nice: int = 10
    io_class: IoClass = "best-effort"
    io_level: int = 7  # within best-effort: 0 highest .. 7 lowest
    cpu_affinity: tuple[int, ...] | None = None  # None: every core
    compress_threads: int | None = None  # None: the cores it may use, at most 4


@dataclass(frozen=True)
class ArchiverSettings:
    """Settings of each venue's chronicle-raw-archiver, and how the supervisor watches it."""

    poll_ms: int = 1000
    reader_name: str = "raw-archiver"
    stall_timeout_s: float = 10.0  # reader heartbeat older than this: the archiver is hung
    progress_timeout_s: float = 300.0  # sealed backlog and nothing archived for this long: reported
    missing_queue_timeout_s: float = 60.0  # no queue directory (or no segment in it) for this long: reported
    refresh_when_idle_s: float = 60.0  # idle this long after archiving: the archiver re-execs itself; 0: never
    resources: ResourceLimits = field(default_factory=ResourceLimits)


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
class MetricsSettings:
    """Where the fleet's Prometheus metrics go; both None: nowhere."""

    listen: tuple[str, int] | None = None  # (host, port) of the /metrics listener
    textfile: Path | None = None  # a .prom file for node_exporter's textfile collector
    interval_s: float = 5.0  # how often the textfile is rewritten

    @property
    def enabled(self) -> bool:
        return self.listen is not None or self.textfile is not None


@dataclass(frozen=True)
class SupervisorSettings:
    """The supervisor's own settings."""

    state_dir: Path
    logs: LogSettings = field(default_factory=LogSettings)
    stop_timeout_s: float = 30.0  # how long an archiver gets after SIGTERM
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    max_compress_threads: int | None = None  # across every archiver at once; None: no cap


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
    archive_root: ArchiveRoot | None = None  # its own (a directory or s3://bucket/prefix); None: the fleet's


@dataclass(frozen=True)
class FleetConfig:
    """A whole fleet declaration, resolved: absolute paths, defaults applied."""

    path: Path  # the YAML file it came from
    archive_root: ArchiveRoot  # a directory (absolute), or s3://bucket/prefix
    venues: tuple[VenueConfig, ...]
    supervisor: SupervisorSettings
    buses: tuple[BusSource, ...] = ()
    compression: CompressionPolicy = field(default_factory=CompressionPolicy)
    archiver: ArchiverSettings = field(default_factory=ArchiverSettings)
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    archive_root_must_exist: bool = False  # a missing root is an unmounted disk, not something to create
    object_store: StoreSettings = field(default_factory=StoreSettings)  # where s3:// roots are; never credentials

    @property
    def enabled_venues(self) -> tuple[VenueConfig, ...]:
        return tuple(v for v in self.venues if v.enabled)

    def archive_root_of(self, venue: VenueConfig) -> ArchiveRoot:
        """Where the venue's archive goes: its own root, else the fleet's."""
        return venue.archive_root if venue.archive_root is not None else self.archive_root

    def venue(self, name: str) -> VenueConfig:
        for v in self.venues:
            if v.name == name:
                return v
        raise KeyError(name)
