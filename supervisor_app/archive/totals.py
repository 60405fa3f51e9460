"""What a venue's archive holds in all: segments and bytes archived, segments lost, for counters that survive restarts.

Read from the partition summaries (constant size each) and the venue's loss record,
through a cache keyed by each file's (mtime, size): a round over an unchanged archive
reads nothing but a directory listing and a few stats. The newest partitions are looked
at every round; the older ones every OLD_PARTITIONS_EVERY_S, which is when a late segment
filed under an old date starts to count.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from supervisor_app.archive.layout import META_FILE_NAME, ArchiveLayout
from supervisor_app.archive.meta import PartitionSummary, current_summary
from supervisor_app.archive.missing import load_missing
from supervisor_app.errors import ChronicleFleetError

OLD_PARTITIONS_EVERY_S = 60.0
NEWEST_PARTITIONS = 2  # today's and yesterday's: where segments land
# Upper bounds (seconds) of the segment-archiving-time histogram's buckets.
ARCHIVE_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

_Key = tuple[int, int]  # (st_mtime_ns, st_size)


@dataclass(frozen=True)
class VenueTotals:
    """A venue's archive, counted."""

    segments: int = 0
    raw_bytes: int = 0
    stored_bytes: int = 0
    corrupt_segments: int = 0
    missing_segments: int = 0
    queue_resets: int = 0
    archive_seconds_counts: tuple[int, ...] = ()  # per bucket of ARCHIVE_SECONDS_BUCKETS (not cumulative)
    archive_seconds_sum: float = 0.0
    segments_timed: int = 0  # segments whose archiving time is known (older archives did not record it)
    unreadable: tuple[str, ...] = ()  # damaged metadata files, each "path: what is wrong"; counted as empty


@dataclass(frozen=True)
class _Read:
    """One metadata file as last read: its summary (or count), or why it could not be."""

    key: _Key
    summary: PartitionSummary | None = None
    count: int = 0
    error: str | None = None


@dataclass
class _VenueCache:
    partitions: dict[Path, _Read] = field(default_factory=dict)
    missing: _Read | None = None
    last_full_round: float | None = None


class TotalsReader:
    """Keeps what it has read of each venue's metadata; use it from one thread."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._venues: dict[Path, _VenueCache] = {}

    def totals(self, layout: ArchiveLayout) -> VenueTotals:
        """The venue's totals now (damaged files are named in `unreadable`, never raised)."""
        cache = self._venues.setdefault(layout.venue_dir, _VenueCache())
        partitions = layout.partition_dirs()
        now = self._monotonic()
        full = cache.last_full_round is None or now - cache.last_full_round >= OLD_PARTITIONS_EVERY_S
        if full:
            cache.last_full_round = now
        for directory in partitions if full else partitions[-NEWEST_PARTITIONS:]:
            path = directory / META_FILE_NAME
            cache.partitions[path] = _fresh(path, cache.partitions.get(path), _read_summary)
        wanted = {d / META_FILE_NAME for d in partitions}
        cache.partitions = {path: read for path, read in cache.partitions.items() if path in wanted}
        cache.missing = _fresh(layout.missing_segments_path, cache.missing, _read_missing)
        reads = [*cache.partitions.values(), cache.missing]
        summaries = [read.summary for read in cache.partitions.values() if read.summary is not None]
        return VenueTotals(
            segments=sum(s.segment_count for s in summaries),
            raw_bytes=sum(s.raw_bytes for s in summaries),
            stored_bytes=sum(s.stored_bytes for s in summaries),
            missing_segments=cache.missing.count,
            unreadable=tuple(read.error for read in reads if read.error is not None),
        )


def _fresh(path: Path, known: _Read | None, read: Callable[[Path, _Key], _Read]) -> _Read:
    """`known` if the file has not changed since, else read it again (an absent file reads as empty)."""
    key = _key(path)
    if known is not None and known.key == key:
        return known
    try:
        return read(path, key)
    except ChronicleFleetError as error:
        return _Read(key, error=str(error))


def _read_summary(path: Path, key: _Key) -> _Read:
    return _Read(key, summary=current_summary(path))


def _read_missing(path: Path, key: _Key) -> _Read:
    return _Read(key, count=len(load_missing(path)))


def _key(path: Path) -> _Key:
    """(mtime, size), or (0, -1) for a file that is not there."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return 0, -1
    return info.st_mtime_ns, info.st_size
