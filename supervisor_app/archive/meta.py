"""Partition metadata: one sidecar per archived segment, and `meta.json`, a summary of constant size.

`<partition>/<9-digit id>.meta.json` holds one segment's entry. `meta.json` holds the
reference's fields plus aggregates over the sidecars and, as `last_applied`, the entry it
counted last (written before that entry's sidecar, so it completes a sidecar a crash lost).
Format v1 (every entry inline in meta.json) and the reference's meta.json are still read.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from supervisor_app.archive.layout import META_FILE_NAME
from supervisor_app.archive.metadata_files import (
    MAX_META_BYTES,
    MAX_SIDECAR_BYTES,
    Fields,
    Source,
    corrupt,
    read_json,
    shorten,
)

META_FORMAT = "chronicle-fleet.raw-meta.v2"
LEGACY_META_FORMAT = "chronicle-fleet.raw-meta.v1"
SIDECAR_FORMAT = "chronicle-fleet.raw-segment.v1"
SIDECAR_SUFFIX = ".meta.json"
# Upper bounds (seconds) of the archive-time histogram each summary keeps (Prometheus le= buckets).
ARCHIVE_SECONDS_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 120.0)
MAX_SEGMENT_ID = 999_999_999  # nine digits in every file name
_ID_DIGITS = 9
_CRC32 = re.compile("[0-9a-f]{8}")
# How a segment's partition date was chosen: its earliest record; its earliest good record
# (the segment is corrupt, bad records are not trusted); its file's mtime (no good record).
DATED_BY = ("records", "good_records", "mtime")
_DATED_BY = re.compile("|".join(DATED_BY))


@dataclass(frozen=True)
class ArchivedFile:
    """One file of a segment in the partition directory."""

    name: str
    size: int


@dataclass(frozen=True)
class ZstdInfo:
    """How a segment's `.q.zst` was cut into frames."""

    level: int | None  # None: an earlier run's file kept as is, level unknown
    block_size: int
    frames: int


@dataclass(frozen=True)
class SegmentEntry:
    """What was archived of one segment: enough to verify it later without the source.

    To add a field: give it a default here, write it in `to_json`, read it in `from_fields`
    with its default when absent (older sidecars lack it), e.g.
    `truncated=fields.boolean("truncated") if fields.has("truncated") else False`, and add it,
    not required, to metadata.schema.json's `segment_entry`.
    """

    segment_id: int
    raw_size: int
    raw_crc32: int
    record_count: int
    event_time_range: tuple[int, int] | None
    files: tuple[ArchivedFile, ...]
    zstd: ZstdInfo | None
    archived_at_ns: int
    # What the record check found in the source (chronicle.records.RecordSummary); the bytes are archived as they were.
    bad_record_count: int = 0
    first_bad_offset: int | None = None  # where the first finding starts; None: the segment is healthy
    truncated: bool = False
    data_after_end: bool = False
    dated_by: str = "records"  # one of DATED_BY
    archive_ms: int | None = None  # staging to durable files, in milliseconds; None in older entries

    @property
    def stored_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def corrupt(self) -> bool:
        return self.first_bad_offset is not None

    def findings_text(self) -> str:
        """What the record check found, in words ("" for a healthy segment)."""
        if not self.corrupt:
            return ""
        found = []
        if self.bad_record_count:
            found.append(f"{self.bad_record_count} bad record(s) (payload CRC-32 or header wrong)")
        if self.truncated:
            found.append("truncated (a record runs past the end, or the file is shorter than the queue's segments)")
        if self.data_after_end:
            found.append("non-zero bytes after the last record")
        return f"{'; '.join(found)}; first at offset {self.first_bad_offset}"

    def same_source(self, other: SegmentEntry) -> bool:
        """Both describe the same source bytes."""
        return (self.raw_size, self.raw_crc32) == (other.raw_size, other.raw_crc32)

    def same_archive(self, other: SegmentEntry) -> bool:
        """Equal but for when and how fast they were archived: recording `other` again would change nothing."""
        return replace(self, archived_at_ns=other.archived_at_ns, archive_ms=other.archive_ms) == other

    def to_json(self) -> dict[str, Any]:
        return {
            "segment_id": self.segment_id,
            "raw_size": self.raw_size,
            "raw_crc32": f"{self.raw_crc32:08x}",
            "record_count": self.record_count,
            "event_time_range": list(self.event_time_range) if self.event_time_range else None,
            "files": [{"name": f.name, "size": f.size} for f in self.files],
            "zstd": None
            if self.zstd is None
            else {"level": self.zstd.level, "block_size": self.zstd.block_size, "frames": self.zstd.frames},
            "archived_at_ns": self.archived_at_ns,
            "bad_record_count": self.bad_record_count,
            "first_bad_offset": self.first_bad_offset,
            "truncated": self.truncated,
            "data_after_end": self.data_after_end,
            "dated_by": self.dated_by,
            "archive_ms": self.archive_ms,
        }

    @classmethod
    def from_fields(cls, fields: Fields) -> SegmentEntry:
        """Read and check an entry (CorruptArchiveError names the file and the field)."""
        segment_id = fields.integer("segment_id", maximum=MAX_SEGMENT_ID)
        zstd = fields.optional_object("zstd")
        time_range = fields.time_range("event_time_range")
        entry = cls(
            segment_id=segment_id,
            raw_size=fields.integer("raw_size"),
            raw_crc32=int(fields.text("raw_crc32", pattern=_CRC32), 16),
            record_count=fields.integer("record_count"),
            event_time_range=time_range,
            files=_archived_files(fields, segment_id),
            zstd=None
            if zstd is None
            else ZstdInfo(
                level=zstd.optional_integer("level", minimum=1, maximum=22),
                block_size=zstd.integer("block_size", minimum=1, maximum=2**32 - 1),
                frames=zstd.integer("frames"),
            ),
            archived_at_ns=fields.integer("archived_at_ns"),
            # Entries written before the record check was recorded lack these: they were not checked as corrupt.
            bad_record_count=fields.integer("bad_record_count") if fields.has("bad_record_count") else 0,
            first_bad_offset=fields.optional_integer("first_bad_offset") if fields.has("first_bad_offset") else None,
            truncated=fields.boolean("truncated") if fields.has("truncated") else False,
            data_after_end=fields.boolean("data_after_end") if fields.has("data_after_end") else False,
            dated_by=fields.text("dated_by", pattern=_DATED_BY)
            if fields.has("dated_by")
            else ("records" if time_range else "mtime"),
            archive_ms=fields.optional_integer("archive_ms") if fields.has("archive_ms") else None,
        )
        found = entry.bad_record_count or entry.truncated or entry.data_after_end
        if bool(found) != entry.corrupt:
            raise fields.error(
                "first_bad_offset", "must be set exactly when bad_record_count, truncated or data_after_end is"
            )
        return entry


def _archived_files(fields: Fields, segment_id: int) -> tuple[ArchivedFile, ...]:
    own_names = segment_file_names(segment_id)
    files: list[ArchivedFile] = []
    for item in fields.objects("files", max_items=len(own_names)):
        name = item.text("name", max_chars=32)
        if name not in own_names:
            raise item.error("name", f"{name!r} is not a file of segment {segment_id}")
        if any(f.name == name for f in files):
            raise item.error("name", f"{name!r} is listed twice")
        files.append(ArchivedFile(name=name, size=item.integer("size")))
    return tuple(files)


def segment_file_names(segment_id: int) -> tuple[str, str, str]:
    """The names a segment's archive files may have: `.q`, `.q.zst`, `.q.zst.idx`."""
    raw = f"{segment_id:0{_ID_DIGITS}d}.q"
    return raw, raw + ".zst", raw + ".zst.idx"


def sidecar_name(segment_id: int) -> str:
    return f"{segment_id:0{_ID_DIGITS}d}{SIDECAR_SUFFIX}"


def sidecar_segment_id(name: str) -> int | None:
    """The segment id a sidecar file name stands for, or None if `name` is no sidecar's."""
    digits = name[:_ID_DIGITS]
    if name[_ID_DIGITS:] != SIDECAR_SUFFIX or not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits)


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


_V2_ONLY_FIELDS = frozenset(PartitionSummary(venue="-", ingest_time_ns=0).to_json()) - {
    "symbol_code",
    "venue",
    "ingest_time_ns",
    "event_time_range",
    "completeness",
    "format",
}


@dataclass(frozen=True)
class LegacyMeta:
    """A `meta.json` in an older form: format v1 (every entry inline) or the reference's (no entries)."""

    venue: str
    ingest_time_ns: int
    symbol_code: str | None
    event_time_range: tuple[int, int] | None
    entries: tuple[SegmentEntry, ...]

    def summary(self) -> PartitionSummary:
        """The v2 summary of these entries (the reference's time range is kept: it covers segments it archived)."""
        summary = PartitionSummary(
            venue=self.venue,
            ingest_time_ns=self.ingest_time_ns,
            symbol_code=self.symbol_code,
            event_time_range=self.event_time_range,
        )
        for entry in sorted(self.entries, key=lambda e: e.segment_id):
            summary = summary.with_entry(entry, None)
        return summary

    @classmethod
    def from_fields(cls, fields: Fields) -> LegacyMeta:
        """Read and check a v1 or reference meta.json (CorruptArchiveError names the file and the field)."""
        fields.optional_text("completeness", required=False)
        entries = tuple(SegmentEntry.from_fields(item) for item in fields.objects("segments", required=False))
        if len({e.segment_id for e in entries}) != len(entries):
            raise fields.error("segments", "records a segment twice")
        return cls(
            venue=fields.text("venue", min_chars=1),
            ingest_time_ns=fields.integer("ingest_time_ns"),
            symbol_code=fields.optional_text("symbol_code", required=False),
            event_time_range=fields.time_range("event_time_range", required=False),
            entries=entries,
        )


def load_partition_meta(path: Path) -> PartitionSummary | LegacyMeta | None:
    """The partition's meta.json, or None when it has none yet; CorruptArchiveError names what is wrong."""
    document = read_json(path, MAX_META_BYTES)
    return None if document is None else partition_meta_from_json(document, path)


def partition_meta_from_json(document: Any, path: Source) -> PartitionSummary | LegacyMeta:
    """A meta.json document read from `path`, in whichever format it is."""
    fields = Fields(document, path)
    meta_format = fields.text("format", max_chars=2**31) if fields.has("format") else None
    if meta_format == META_FORMAT:
        return PartitionSummary.from_fields(fields)
    if meta_format not in (None, LEGACY_META_FORMAT):
        raise fields.error(
            "format", f"unknown format {shorten(repr(meta_format))} (written by a newer chronicle-fleet?)"
        )
    # A v2 summary that lost its format would otherwise pass for an empty older one and restart its totals.
    v2_only = sorted(k for k in _V2_ONLY_FIELDS if fields.has(k))
    if v2_only:
        raise fields.error("format", f"is {meta_format!r} but the file has format v2's {', '.join(v2_only)}")
    if fields.has("segments") != (meta_format == LEGACY_META_FORMAT):
        raise fields.error("segments", "belongs with format v1 (a list of entries) and only there")
    return LegacyMeta.from_fields(fields)


def current_summary(path: Path) -> PartitionSummary | None:
    """The partition's meta.json as a v2 summary, whatever its format on disk."""
    meta = load_partition_meta(path)
    return meta.summary() if isinstance(meta, LegacyMeta) else meta


def load_sidecar(path: Path) -> SegmentEntry | None:
    """The entry in a segment's sidecar, or None when it has none."""
    document = read_json(path, MAX_SIDECAR_BYTES)
    return None if document is None else sidecar_from_json(document, path, path.name)


def sidecar_from_json(document: Any, path: Source, name: str) -> SegmentEntry:
    """The entry of a sidecar document read from `path`, whose file name is `name`."""
    fields = Fields(document, path)
    if fields.text("format", max_chars=2**31) != SIDECAR_FORMAT:
        raise fields.error("format", f"is not {SIDECAR_FORMAT!r}")
    entry = SegmentEntry.from_fields(fields)
    if entry.segment_id != sidecar_segment_id(name):
        raise fields.error("segment_id", f"{entry.segment_id} is not the segment the file name says")
    return entry


def sidecar_ids(directory: Path) -> list[int]:
    """Ids of every segment with a sidecar in `directory`, in order."""
    return sorted(i for name in os.listdir(directory) if (i := sidecar_segment_id(name)) is not None)


def partition_entries(directory: Path) -> list[SegmentEntry]:
    """Every entry a partition records, oldest id first (reads every sidecar: not for a hot path)."""
    meta = load_partition_meta(directory / META_FILE_NAME)
    if isinstance(meta, LegacyMeta):
        return sorted(meta.entries, key=lambda e: e.segment_id)
    entries: dict[int, SegmentEntry] = {}
    for segment_id in sidecar_ids(directory):
        entry = load_sidecar(directory / sidecar_name(segment_id))
        if entry is not None:
            entries[segment_id] = entry
    if meta is not None and meta.last_applied is not None:
        # Written before its sidecar: where the two differ, the sidecar is the one a crash left behind.
        entries[meta.last_applied.segment_id] = meta.last_applied
    return [entries[i] for i in sorted(entries)]


def summary_bytes(summary: PartitionSummary) -> bytes:
    """meta.json's content: 2-space indented, like the reference."""
    return _encode(summary.to_json())


def sidecar_bytes(entry: SegmentEntry) -> bytes:
    return _encode({"format": SIDECAR_FORMAT, **entry.to_json()})


def _encode(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def _time_range(value: list[int] | None) -> tuple[int, int] | None:
    return None if value is None else (value[0], value[1])


def _union(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    if a is None or b is None:
        return a or b
    return min(a[0], b[0]), max(a[1], b[1])


def _smaller(a: int | None, b: int) -> int:
    return b if a is None else min(a, b)


def _larger(a: int | None, b: int) -> int:
    return b if a is None else max(a, b)
