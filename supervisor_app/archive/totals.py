"""What a venue's archive holds in all: segments and bytes archived, and its recorded losses, for status and metrics.

Read from the partition summaries (constant size each) and the venue's records (missing
segments, queue resets, acknowledgements), never from the sidecars, through a cache keyed
by each file's identity: a poll of an unchanged archive costs a directory listing and a
stat per partition. The newest partitions are looked at every call; the older ones every
OLD_PARTITIONS_EVERY_S, which is when a late segment filed under an old date counts.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from supervisor_app.archive.layout import META_FILE_NAME, ArchiveLayout
from supervisor_app.archive.losses import Acknowledged, LossCounts, load_acknowledgements
from supervisor_app.archive.meta import PartitionSummary, current_summary
from supervisor_app.archive.missing import MissingSegment, load_missing
from supervisor_app.archive.resets import QueueReset, load_resets
from supervisor_app.errors import ChronicleFleetError, CorruptArchiveError

OLD_PARTITIONS_EVERY_S = 60.0
NEWEST_PARTITIONS = 2  # today's and yesterday's: where segments land
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_Identity = tuple[int, int, int]  # (st_ino, st_mtime_ns, st_size); all 0 for a file that is not there
T = TypeVar("T")


@dataclass(frozen=True)
class VenueTotals:
    """A venue's archive, counted."""

    segments: int = 0
    raw_bytes: int = 0
    stored_bytes: int = 0
    losses: LossCounts = field(default_factory=LossCounts)
    archive_seconds_counts: tuple[
        int, ...
    ] = ()  # per bucket of meta.ARCHIVE_SECONDS_BUCKETS, + one above (not cumulative)
    archive_seconds_sum: float = 0.0

    @property
    def segments_timed(self) -> int:
        """Segments whose archiving time is known (older archives did not record it)."""
        return sum(self.archive_seconds_counts)

    unreadable: tuple[str, ...] = ()  # damaged metadata files, each "path: what is wrong"; counted as empty


@dataclass(frozen=True)
class _Read(Generic[T]):
    """One metadata file as last read: what it holds, or why it could not be read."""

    identity: _Identity
    value: T | None = None
    error: str | None = None


@dataclass
class _VenueCache:
    partitions: dict[str, _Read[PartitionSummary]] = field(default_factory=dict)  # date -> its meta.json
    missing: _Read[list[MissingSegment]] | None = None
    resets: _Read[list[QueueReset]] | None = None
    acknowledged: _Read[Acknowledged] | None = None
    last_full_round: float | None = None


class TotalsReader:
    """Keeps what it has read of each venue's metadata; use it from one thread."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._venues: dict[Path, _VenueCache] = {}

    def totals(self, layout: ArchiveLayout) -> VenueTotals:
        """The venue's totals now; damaged files are named in `unreadable` and counted as empty, never raised."""
        cache = self._venues.setdefault(layout.venue_dir, _VenueCache())
        partitions = dict(_partitions(layout.venue_dir))
        now = self._monotonic()
        full = cache.last_full_round is None or now - cache.last_full_round >= OLD_PARTITIONS_EVERY_S
        if full:
            cache.last_full_round = now
        for date in sorted(partitions) if full else sorted(partitions)[-NEWEST_PARTITIONS:]:
            cache.partitions[date] = _fresh(partitions[date], cache.partitions.get(date), _summary)
        cache.partitions = {date: read for date, read in cache.partitions.items() if date in partitions}
        cache.missing = _fresh(layout.missing_segments_path, cache.missing, load_missing)
        cache.resets = _fresh(layout.queue_resets_path, cache.resets, load_resets)
        cache.acknowledged = _fresh(layout.acknowledged_path, cache.acknowledged, _acknowledged)
        return _count(cache)


def loss_counts(layout: ArchiveLayout) -> LossCounts:
    """A venue's recorded losses and acknowledgements, read once; CorruptArchiveError if a record is damaged."""
    totals = TotalsReader().totals(layout)
    if totals.unreadable:
        raise CorruptArchiveError(totals.unreadable[0])
    return totals.losses


def _count(cache: _VenueCache) -> VenueTotals:
    summaries = {date: read.value for date, read in cache.partitions.items() if read.value is not None}
    missing = _value(cache.missing, [])
    resets = _value(cache.resets, [])
    acknowledged = _value(cache.acknowledged, Acknowledged())
    corrupt_acked_by_date = Counter(key[1] for key in acknowledged.by_loss if key[0] == "corrupt")
    losses = LossCounts(
        missing=len(missing),
        missing_acknowledged=sum(acknowledged.missing(m) is not None for m in missing),
        corrupt=sum(s.corrupt_segment_count for s in summaries.values()),
        corrupt_acknowledged=sum(
            min(s.corrupt_segment_count, corrupt_acked_by_date[date]) for date, s in summaries.items()
        ),
        queue_resets=len(resets),
        queue_resets_acknowledged=sum(acknowledged.reset(r) is not None for r in resets),
    )
    reads = [*cache.partitions.values(), cache.missing, cache.resets, cache.acknowledged]
    return VenueTotals(
        segments=sum(s.segment_count for s in summaries.values()),
        raw_bytes=sum(s.raw_bytes for s in summaries.values()),
        stored_bytes=sum(s.stored_bytes for s in summaries.values()),
        losses=losses,
        archive_seconds_counts=tuple(map(sum, zip(*(s.archive_ms_buckets for s in summaries.values()), strict=True)))
        or PartitionSummary.archive_ms_buckets,
        archive_seconds_sum=sum(s.archive_ms_sum for s in summaries.values()) / 1000,
        unreadable=tuple(read.error for read in reads if read is not None and read.error is not None),
    )


def _value(read: _Read[T] | None, empty: T) -> T:
    return empty if read is None or read.value is None else read.value


def _fresh(path: Path, known: _Read[T] | None, load: Callable[[Path], T | None]) -> _Read[T]:
    """`known` if the file has not changed since, else read it again (an absent file reads as empty)."""
    identity = _identity(path)
    if known is not None and known.identity == identity:
        return known
    try:
        return _Read(identity, value=load(path))
    except ChronicleFleetError as error:
        return _Read(identity, error=str(error))


def _summary(path: Path) -> PartitionSummary | None:
    return current_summary(path)


def _acknowledged(path: Path) -> Acknowledged:
    return Acknowledged.of(load_acknowledgements(path))


def _identity(path: Path) -> _Identity:
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return 0, 0, 0
    return info.st_ino, info.st_mtime_ns, info.st_size


def _partitions(venue_dir: Path) -> Iterator[tuple[str, Path]]:
    """(date, meta.json) of each partition, as ArchiveLayout.partition_dirs finds them (links are not followed)."""
    try:
        entries = list(os.scandir(venue_dir))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:  # os.scandir and plain strings: pathlib's overhead would be most of the cost here
        if not (_DATE.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False)):
            continue
        raw = os.path.join(entry.path, "raw")
        try:
            if not stat.S_ISDIR(os.lstat(raw).st_mode):
                continue
        except FileNotFoundError:
            continue
        yield entry.name, Path(raw, META_FILE_NAME)
