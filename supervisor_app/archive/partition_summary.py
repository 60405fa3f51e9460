"""`meta.json` in format v2: the reference's fields and aggregates over every sidecar, of constant size.

`last_applied` is the entry it counted last, written before that entry's sidecar, so it
completes a sidecar a crash lost.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from supervisor_app.archive.metadata_files import Fields, Source, corrupt, encode_json
from supervisor_app.archive.sidecar import MAX_SEGMENT_ID, SegmentEntry

META_FORMAT = "chronicle-fleet.raw-meta.v2"
# Upper bounds (seconds) of the archive-time histogram each summary keeps (Prometheus le= buckets).
ARCHIVE_SECONDS_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 120.0)


@dataclass(frozen=True)
class PartitionSummary:
    """`meta.json`, format v2: the reference's fields and aggregates over every sidecar, of constant size."""

    venue: str
    ingest_time_ns: int  # when the partition was first written; kept across updates
    symbol_code: str | None = None
    event_time_range: tuple[int, int] | None = None  # covers every segment (the reference's: only its first)
    segment_count: int = 0
    first_segment_id: int | None = None
    last_segment_id: int | None = None
    last_archived_at_ns: int | None = None
    raw_bytes: int = 0
    stored_bytes: int = 0
    last_applied: SegmentEntry | None = None  # counted last; its sidecar may not be written yet
    corrupt_segment_count: int = 0  # segments archived although the record check found them corrupt
    # How long segments took to archive: counts per ARCHIVE_SECONDS_BUCKETS (+ one above the last), and their sum.
    archive_ms_buckets: tuple[int, ...] = (0,) * (len(ARCHIVE_SECONDS_BUCKETS) + 1)
    archive_ms_sum: int = 0

    def with_entry(self, entry: SegmentEntry, previous: SegmentEntry | None) -> PartitionSummary:
        """The summary once `entry` is recorded; `previous` is the version of that segment it counts already."""
        if previous is None:
            return replace(
                self._touched_by(entry),
                segment_count=self.segment_count + 1,
                first_segment_id=_smaller(self.first_segment_id, entry.segment_id),
                last_segment_id=_larger(self.last_segment_id, entry.segment_id),
                raw_bytes=self.raw_bytes + entry.raw_size,
                stored_bytes=self.stored_bytes + entry.stored_bytes,
                corrupt_segment_count=self.corrupt_segment_count + entry.corrupt,
                **self._timed(add=entry),
            )
        return replace(
            self._touched_by(entry),
            raw_bytes=self.raw_bytes - previous.raw_size + entry.raw_size,
            stored_bytes=self.stored_bytes - previous.stored_bytes + entry.stored_bytes,
            corrupt_segment_count=self.corrupt_segment_count - previous.corrupt + entry.corrupt,
            **self._timed(add=entry, remove=previous),
        )

    def _timed(self, *, add: SegmentEntry, remove: SegmentEntry | None = None) -> dict[str, Any]:
        """The archive-time histogram with `add`'s time counted and `remove`'s uncounted."""
        buckets, total = list(self.archive_ms_buckets), self.archive_ms_sum
        for entry, sign in ((remove, -1), (add, 1)):
            if entry is not None and entry.archive_ms is not None:
                buckets[archive_time_bucket(entry.archive_ms)] += sign
                total += sign * entry.archive_ms
        return {"archive_ms_buckets": tuple(buckets), "archive_ms_sum": total}

    def _touched_by(self, entry: SegmentEntry) -> PartitionSummary:
        return replace(
            self,
            event_time_range=_union(self.event_time_range, entry.event_time_range),
            last_archived_at_ns=_larger(self.last_archived_at_ns, entry.archived_at_ns),
            last_applied=entry,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "symbol_code": self.symbol_code,
            "venue": self.venue,
            "ingest_time_ns": self.ingest_time_ns,
            "event_time_range": list(self.event_time_range) if self.event_time_range else None,
            "completeness": "sealed",
            "format": META_FORMAT,
            "segment_count": self.segment_count,
            "first_segment_id": self.first_segment_id,
            "last_segment_id": self.last_segment_id,
            "last_archived_at_ns": self.last_archived_at_ns,
            "raw_bytes": self.raw_bytes,
            "stored_bytes": self.stored_bytes,
            "last_applied": None if self.last_applied is None else self.last_applied.to_json(),
            "corrupt_segment_count": self.corrupt_segment_count,
            "archive_ms_buckets": list(self.archive_ms_buckets),
            "archive_ms_sum": self.archive_ms_sum,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> PartitionSummary:
        """Read and check a v2 meta.json (CorruptArchiveError names the file and the field)."""
        fields.text("completeness")
        last = fields.optional_object("last_applied")
        summary = cls(
            venue=fields.text("venue", min_chars=1),
            ingest_time_ns=fields.integer("ingest_time_ns"),
            symbol_code=fields.optional_text("symbol_code"),
            event_time_range=fields.time_range("event_time_range"),
            segment_count=fields.integer("segment_count"),
            first_segment_id=fields.optional_integer("first_segment_id", maximum=MAX_SEGMENT_ID),
            last_segment_id=fields.optional_integer("last_segment_id", maximum=MAX_SEGMENT_ID),
            last_archived_at_ns=fields.optional_integer("last_archived_at_ns"),
            raw_bytes=fields.integer("raw_bytes"),
            stored_bytes=fields.integer("stored_bytes"),
            last_applied=None if last is None else SegmentEntry.from_fields(last),
            # Summaries written before corrupt segments were counted lack it: none was counted as corrupt then.
            corrupt_segment_count=fields.integer("corrupt_segment_count") if fields.has("corrupt_segment_count") else 0,
            # Summaries written before archive times were kept lack them: no segment was timed then.
            archive_ms_buckets=fields.integers("archive_ms_buckets", length=len(ARCHIVE_SECONDS_BUCKETS) + 1)
            if fields.has("archive_ms_buckets")
            else PartitionSummary.archive_ms_buckets,
            archive_ms_sum=fields.integer("archive_ms_sum") if fields.has("archive_ms_sum") else 0,
        )
        _check_summary(summary, fields.path)
        return summary


def archive_time_bucket(archive_ms: int) -> int:
    """The histogram bucket a segment's archive time falls in (the last: above every bound)."""
    return next((i for i, bound in enumerate(ARCHIVE_SECONDS_BUCKETS) if archive_ms <= bound * 1000), -1)


def _check_summary(summary: PartitionSummary, path: Source) -> None:
    if sum(summary.archive_ms_buckets) > summary.segment_count:
        raise corrupt(
            path, "archive_ms_buckets", f"count {sum(summary.archive_ms_buckets)} segments, more than segment_count"
        )
    if summary.corrupt_segment_count > summary.segment_count:
        raise corrupt(path, "corrupt_segment_count", f"{summary.corrupt_segment_count} is more than segment_count")
    optional = (summary.first_segment_id, summary.last_segment_id, summary.last_archived_at_ns, summary.last_applied)
    if summary.segment_count == 0:
        if any(value is not None for value in optional):
            raise corrupt(
                path, "segment_count", "is 0, but first/last segment, last_archived_at_ns or last_applied is set"
            )
        return
    first, last, applied = summary.first_segment_id, summary.last_segment_id, summary.last_applied
    if first is None or last is None or applied is None or summary.last_archived_at_ns is None:
        raise corrupt(
            path, "segment_count", "is not 0, but first/last segment, last_archived_at_ns or last_applied is null"
        )
    if not first <= applied.segment_id <= last:
        raise corrupt(path, "last_applied.segment_id", f"{applied.segment_id} is outside first..last ({first}..{last})")


def summary_bytes(summary: PartitionSummary) -> bytes:
    """meta.json's content: 2-space indented, like the reference."""
    return encode_json(summary.to_json())


def _union(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    if a is None or b is None:
        return a or b
    return min(a[0], b[0]), max(a[1], b[1])


def _smaller(a: int | None, b: int) -> int:
    return b if a is None else min(a, b)


def _larger(a: int | None, b: int) -> int:
    return b if a is None else max(a, b)
