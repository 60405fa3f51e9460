"""The archive watch: every venue's archive progress, read on its own thread, and the risks it shows.

It reads each enabled venue's queue, reader position and newest archive metadata every
interval (never writing), keeps the latest snapshot for `status`, metrics and systemd's
STATUS line, and logs at error level when a venue starts to be at risk: its queue
directory is missing or empty for the venue's missing_queue_timeout (the real queue may
be elsewhere, unprotected by our reader), or sealed segments wait and none has been
archived for its progress_timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.progress import (
    HEARTBEAT_WARN_NS,
    LAG_WARN_BYTES,
    ArchiveProgress,
    archive_progress,
)
from supervisor_app.archive.totals import TotalsReader, VenueTotals
from supervisor_app.archive_root import ArchiveRoot
from supervisor_app.chronicle.segment import list_segment_ids
from supervisor_app.config.model import VenueConfig
from supervisor_app.errors import ChronicleFleetError
from supervisor_app.timefmt import iso_utc

WATCH_INTERVAL_S = 1.0
# A round may take at most this share of a core: at hundreds of venues, rounds come less often.
WATCH_DUTY = 0.025


@dataclass(frozen=True)
class Risk:
    """Why retention may delete unarchived segments soon, or already can: a reason label and a sentence."""

    reason: str  # heartbeat, lag, queue_missing, no_progress
    message: str


@dataclass(frozen=True)
class VenueWatch:
    """What the watch last saw of one venue."""

    progress: ArchiveProgress | None
    risks: tuple[Risk, ...] = ()
    error: str | None = None  # the progress could not be read (damaged metadata, say)
    observed_at: float = 0.0  # wall clock
    totals: VenueTotals | None = None  # what the archive holds in all (for the metrics' counters)

    def as_status(self) -> dict[str, Any]:
        """The `archive` mapping of a status row."""
        if self.progress is None:
            data: dict[str, Any] = {"error": self.error}
        else:
            data = asdict(self.progress)
            at = self.progress.last_archived_at_ns
            data["last_archived_at"] = None if at is None else iso_utc(at / 1e9)
        if self.totals is not None:
            losses = self.totals.losses
            data["losses"] = {
                "missing": losses.missing,
                "corrupt": losses.corrupt,
                "queue_resets": losses.queue_resets,
                "unacknowledged": losses.unacknowledged,
            }
        data["risks"] = [risk.message for risk in self.risks]
        data["risk_reasons"] = [risk.reason for risk in self.risks]
        data["observed_at"] = iso_utc(self.observed_at)
        return data


@dataclass
class _Timers:
    """Since when each slow condition has held for one venue (monotonic), and what was logged."""

    queue_missing_since: float | None = None
    stuck_since: float | None = None
    last_seen: tuple[int | None, int | None] = (None, None)  # (position, last archived) last time
    logged: set[str] = field(default_factory=set)


class ArchiveWatch:
    """Watches the venues it is given; `snapshot()` is safe from any thread."""

    def __init__(
        self,
        archive_root: ArchiveRoot,
        venues: Iterable[VenueConfig],
        *,
        log: Any,
        interval_s: float = WATCH_INTERVAL_S,
        clock: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._interval_s = interval_s
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._targets = (archive_root, tuple(v for v in venues if v.enabled))
        self._snapshot: Mapping[str, VenueWatch] = MappingProxyType({})
        self._timers: dict[str, _Timers] = {}
        self._totals = TotalsReader()  # used by the watch's thread alone
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, archive_root: ArchiveRoot, venues: Iterable[VenueConfig]) -> None:
        """Watch these venues from the next round on (after a reload)."""
        with self._lock:
            self._targets = (archive_root, tuple(v for v in venues if v.enabled))

    def snapshot(self) -> Mapping[str, VenueWatch]:
        with self._lock:
            return self._snapshot

    def start(self) -> None:
        self._guarded_round()
        self._thread = threading.Thread(target=self._run, name="archive-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        wait = self._interval_s
        while not self._stop.wait(wait):
            started = self._monotonic()
            self._guarded_round()
            wait = max(self._interval_s, (self._monotonic() - started) / WATCH_DUTY)

    def _guarded_round(self) -> None:
        try:
            self.observe()
        except Exception:  # the watch must outlive any one bad round, and never take run down
            self._log.exception("archive_watch_failed")

    def observe(self) -> None:
        """One round over every venue."""
        with self._lock:
            archive_root, venues = self._targets
        seen = {venue.name: self._observe(archive_root, venue) for venue in venues}
        for gone in set(self._timers) - set(seen):
            del self._timers[gone]
        with self._lock:
            self._snapshot = MappingProxyType(seen)

    def _observe(self, archive_root: ArchiveRoot, venue: VenueConfig) -> VenueWatch:
        now_ns = self._clock()
        timers = self._timers.setdefault(venue.name, _Timers())
        root = venue.archive_root if venue.archive_root is not None else archive_root
        # An object store's archive is not read from here (a request per venue per round would cost money):
        # its progress comes from the queue and the reader position alone.
        layout = ArchiveLayout(root, venue.name) if isinstance(root, Path) else None
        totals: VenueTotals | None = None
        try:
            totals = self._totals.totals(layout) if layout is not None else None
            progress = archive_progress(venue.queue_dir, venue.archiver.reader_name, layout, now_ns)
        except (OSError, ChronicleFleetError) as error:  # one venue's trouble is that venue's risk, never run's
            risk = Risk("unreadable", f"progress unreadable: {error}")
            return VenueWatch(None, (risk,), str(error), now_ns / 1e9, totals)
        risks = [*_progress_risks(progress), *self._slow_risks(venue, progress, timers)]
        unreadable = totals.unreadable if totals is not None else ()
        risks += [Risk("unreadable", f"archive metadata unreadable: {error}") for error in unreadable]
        self._log_changes(venue, risks, timers)
        return VenueWatch(progress, tuple(risks), None, now_ns / 1e9, totals)

    def _slow_risks(self, venue: VenueConfig, progress: ArchiveProgress, timers: _Timers) -> list[Risk]:
        now = self._monotonic()
        settings = venue.archiver
        risks = []
        missing = _queue_problem(venue.queue_dir)
        timers.queue_missing_since = None if missing is None else (timers.queue_missing_since or now)
        if missing is not None and timers.queue_missing_since is not None:
            waited = now - timers.queue_missing_since
            if waited >= settings.missing_queue_timeout_s:
                risks.append(
                    Risk(
                        "queue_missing",
                        f"the queue directory {venue.queue_dir} {missing} for {waited:.0f} s: no archiver reads"
                        " the real queue, whose retention may be deleting it; check the venue's bus or queue path",
                    )
                )
        seen = (progress.position_segment, progress.last_archived_segment)
        if progress.segments_behind == 0 or seen != timers.last_seen:
            timers.stuck_since = None if progress.segments_behind == 0 else now
        elif timers.stuck_since is None:
            timers.stuck_since = now
        timers.last_seen = seen
        if timers.stuck_since is not None and now - timers.stuck_since >= settings.progress_timeout_s:
            risks.append(
                Risk(
                    "no_progress",
                    f"{progress.segments_behind} sealed segments wait and none was archived for"
                    f" {now - timers.stuck_since:.0f} s; see the venue's log",
                )
            )
        return risks

    def _log_changes(self, venue: VenueConfig, risks: list[Risk], timers: _Timers) -> None:
        """An error the first round a slow risk holds; an info line once it clears."""
        current = {risk.reason: risk for risk in risks if risk.reason in ("queue_missing", "no_progress")}
        for reason in current.keys() - timers.logged:
            self._log.error(reason, venue=venue.name, queue=str(venue.queue_dir), risk=current[reason].message)
        for reason in timers.logged - current.keys():
            self._log.info(f"{reason}_cleared", venue=venue.name)
        timers.logged = set(current)


def _progress_risks(progress: ArchiveProgress) -> list[Risk]:
    risks = []
    age = progress.heartbeat_age_s
    if age is not None and age * 1e9 > HEARTBEAT_WARN_NS:
        risks.append(Risk("heartbeat", next(r for r in progress.risks if "heartbeat" in r)))
    if progress.bytes_behind > LAG_WARN_BYTES:
        risks.append(Risk("lag", next(r for r in progress.risks if "lags" in r)))
    return risks


def _queue_problem(queue_dir: Path) -> str | None:
    """What is wrong with the queue directory for archiving, or None."""
    try:
        if not list_segment_ids(queue_dir):
            return "holds no segment"
    except FileNotFoundError:
        return "does not exist"
    except NotADirectoryError:
        return "is not a directory"
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    return None
