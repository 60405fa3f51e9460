"""One segment id archived in two partitions of a venue with other bytes: two queues went under one venue's name.

Ids grow with time, so a venue's partitions normally hold disjoint id ranges (meta.json keeps
each one's range): only partitions whose ranges overlap are looked into, sidecar by sidecar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from supervisor_app.archive.resets import QueueReset
from supervisor_app.archive.sidecar import SegmentEntry


@dataclass(frozen=True)
class Span:
    """A partition (its date) and the segment ids its meta.json says it holds."""

    date: str
    first: int
    last: int


@dataclass(frozen=True)
class ReusedId:
    """One id in two partitions, with other source bytes in each."""

    segment_id: int
    earlier: Span  # the partition whose range starts first
    later: Span
    earlier_entry: SegmentEntry
    later_entry: SegmentEntry

    def message(self) -> str:
        a, b = self.earlier_entry, self.later_entry
        return (
            f"segment {self.segment_id} is also archived under {self.earlier.date} with other bytes "
            f"({a.raw_size} B, CRC-32 {a.raw_crc32:08x} there; {b.raw_size} B, CRC-32 {b.raw_crc32:08x} here): "
            "two queues were archived under this venue's name, and its segment ids are ambiguous; give each "
            "queue a venue of its own"
        )


def reused_ids(
    spans: Sequence[Span],
    *,
    ids_of: Callable[[str], Iterable[int]],
    entry_of: Callable[[str, int], SegmentEntry | None],
    resets: Sequence[QueueReset],
) -> list[ReusedId]:
    """Ids in two overlapping partitions with other bytes; a queue reset that covers an id explains it."""
    found = []
    for earlier, later in _overlapping(spans):
        low, high = max(earlier.first, later.first), min(earlier.last, later.last)
        in_both = _within(ids_of(earlier.date), low, high) & _within(ids_of(later.date), low, high)
        for segment_id in sorted(in_both):
            if any(reset.covers(segment_id) for reset in resets):
                continue  # recorded as a queue reset, and reported as one
            first, second = entry_of(earlier.date, segment_id), entry_of(later.date, segment_id)
            if first is not None and second is not None and not first.same_source(second):
                found.append(ReusedId(segment_id, earlier, later, first, second))
    return found


def _overlapping(spans: Sequence[Span]) -> list[tuple[Span, Span]]:
    ordered = sorted(spans, key=lambda s: (s.first, s.last, s.date))
    pairs = []
    for number, earlier in enumerate(ordered):
        for later in ordered[number + 1 :]:
            if later.first > earlier.last:
                break  # and every later one starts later still
            pairs.append((earlier, later))
    return pairs


def _within(ids: Iterable[int], low: int, high: int) -> set[int]:
    return {i for i in ids if low <= i <= high}
