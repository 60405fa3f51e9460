"""Partition metadata: one sidecar per archived segment, and `meta.json`, a summary of constant size.

`<partition>/<9-digit id>.meta.json` holds one segment's entry. `meta.json` holds the
reference's fields plus aggregates over the sidecars and, as `last_applied`, the entry it
counted last (written before that entry's sidecar, so it completes a sidecar a crash lost).
Format v1 (every entry inline in meta.json) and the reference's meta.json are still read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from supervisor_app.archive.layout import META_FILE_NAME
from supervisor_app.archive.metadata_files import (
    MAX_META_BYTES,
    MAX_SIDECAR_BYTES,
    check_document,
    corrupt,
    read_json,
    shorten,
)

META_FORMAT = "chronicle-fleet.raw-meta.v2"
LEGACY_META_FORMAT = "chronicle-fleet.raw-meta.v1"
SIDECAR_FORMAT = "chronicle-fleet.raw-segment.v1"
SIDECAR_SUFFIX = ".meta.json"
_ID_DIGITS = 9


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

    To add a field: give it a default here (older sidecars lack it), write it in `to_json`,
    read it with `.get()` in `from_json`, and add it (not required) to metadata.schema.json.
    """

    segment_id: int
    raw_size: int
    raw_crc32: int
    record_count: int
    event_time_range: tuple[int, int] | None
    files: tuple[ArchivedFile, ...]
    zstd: ZstdInfo | None
    archived_at_ns: int

    @property
    def stored_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def same_source(self, other: SegmentEntry) -> bool:
        """Both describe the same source bytes."""
        return (self.raw_size, self.raw_crc32) == (other.raw_size, other.raw_crc32)

    def same_archive(self, other: SegmentEntry) -> bool:
        """Equal but for when they were archived: recording `other` again would change nothing."""
        return replace(self, archived_at_ns=other.archived_at_ns) == other

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
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path, field: str = "") -> SegmentEntry:
        """An entry from a document already checked against the schema; `field` locates it in `path`."""
        time_range = data["event_time_range"]
        zstd = data["zstd"]
        entry = cls(
            segment_id=data["segment_id"],
            raw_size=data["raw_size"],
            raw_crc32=int(data["raw_crc32"], 16),
            record_count=data["record_count"],
            event_time_range=None if time_range is None else (time_range[0], time_range[1]),
            files=tuple(ArchivedFile(name=f["name"], size=f["size"]) for f in data["files"]),
            zstd=None
            if zstd is None
            else ZstdInfo(level=zstd["level"], block_size=zstd["block_size"], frames=zstd["frames"]),
            archived_at_ns=data["archived_at_ns"],
        )
        _check_entry(entry, path, field)
        return entry


def _check_entry(entry: SegmentEntry, path: Path, field: str) -> None:
    prefix = f"{field}." if field else ""
    own_names = segment_file_names(entry.segment_id)
    names = [f.name for f in entry.files]
    for i, name in enumerate(names):
        if name not in own_names:
            raise corrupt(path, f"{prefix}files[{i}].name", f"{name!r} is not a file of segment {entry.segment_id}")
    if len(set(names)) != len(names):
        raise corrupt(path, f"{prefix}files", "lists a file twice")
    _check_time_range(entry.event_time_range, path, f"{prefix}event_time_range")


def _check_time_range(time_range: tuple[int, int] | None, path: Path, field: str) -> None:
    if time_range is not None and time_range[0] > time_range[1]:
        raise corrupt(path, field, f"starts after it ends: {list(time_range)}")


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
            )
        return replace(
            self._touched_by(entry),
            raw_bytes=self.raw_bytes - previous.raw_size + entry.raw_size,
            stored_bytes=self.stored_bytes - previous.stored_bytes + entry.stored_bytes,
        )

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
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> PartitionSummary:
        """A summary from a document already checked against the schema."""
        last = data["last_applied"]
        summary = cls(
            venue=data["venue"],
            ingest_time_ns=data["ingest_time_ns"],
            symbol_code=data["symbol_code"],
            event_time_range=_time_range(data["event_time_range"]),
            segment_count=data["segment_count"],
            first_segment_id=data["first_segment_id"],
            last_segment_id=data["last_segment_id"],
            last_archived_at_ns=data["last_archived_at_ns"],
            raw_bytes=data["raw_bytes"],
            stored_bytes=data["stored_bytes"],
            last_applied=None if last is None else SegmentEntry.from_json(last, path, "last_applied"),
        )
        _check_summary(summary, path)
        return summary


def _check_summary(summary: PartitionSummary, path: Path) -> None:
    _check_time_range(summary.event_time_range, path, "event_time_range")
    optional = (summary.first_segment_id, summary.last_segment_id, summary.last_archived_at_ns, summary.last_applied)
    if summary.segment_count == 0:
        if any(value is not None for value in optional):
            raise corrupt(
                path, "segment_count", "is 0 but first/last segment, last_archived_at_ns or last_applied is set"
            )
        return
    if any(value is None for value in optional):
        raise corrupt(
            path, "segment_count", "is not 0 but first/last segment, last_archived_at_ns or last_applied is null"
        )
    first, last, applied = summary.first_segment_id, summary.last_segment_id, summary.last_applied
    assert first is not None and last is not None and applied is not None
    if not first <= applied.segment_id <= last:
        raise corrupt(path, "last_applied.segment_id", f"{applied.segment_id} is outside first..last ({first}..{last})")


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
    def from_json(cls, data: dict[str, Any], path: Path) -> LegacyMeta:
        entries = tuple(
            SegmentEntry.from_json(item, path, f"segments[{i}]") for i, item in enumerate(data.get("segments", []))
        )
        ids = [e.segment_id for e in entries]
        if len(set(ids)) != len(ids):
            raise corrupt(path, "segments", "records a segment twice")
        meta = cls(
            venue=data["venue"],
            ingest_time_ns=data["ingest_time_ns"],
            symbol_code=data.get("symbol_code"),
            event_time_range=_time_range(data.get("event_time_range")),
            entries=entries,
        )
        _check_time_range(meta.event_time_range, path, "event_time_range")
        return meta


def load_partition_meta(path: Path) -> PartitionSummary | LegacyMeta | None:
    """The partition's meta.json, or None when it has none yet; CorruptArchiveError names what is wrong."""
    document = read_json(path, MAX_META_BYTES)
    if document is None:
        return None
    if not isinstance(document, dict):
        raise corrupt(path, "", f"holds a JSON {type(document).__name__}, not an object")
    meta_format = document.get("format")
    if meta_format == META_FORMAT:
        check_document(document, "summary", path)
        return PartitionSummary.from_json(document, path)
    if meta_format is None or meta_format == LEGACY_META_FORMAT:
        check_document(document, "legacy", path)
        return LegacyMeta.from_json(document, path)
    raise corrupt(path, "format", f"unknown format {shorten(repr(meta_format))} (written by a newer chronicle-fleet?)")


def current_summary(path: Path) -> PartitionSummary | None:
    """The partition's meta.json as a v2 summary, whatever its format on disk."""
    meta = load_partition_meta(path)
    return meta.summary() if isinstance(meta, LegacyMeta) else meta


def load_sidecar(path: Path) -> SegmentEntry | None:
    """The entry in a segment's sidecar, or None when it has none."""
    document = read_json(path, MAX_SIDECAR_BYTES)
    if document is None:
        return None
    check_document(document, "sidecar", path)
    entry = SegmentEntry.from_json(document, path)
    if entry.segment_id != sidecar_segment_id(path.name):
        raise corrupt(path, "segment_id", f"{entry.segment_id} is not the segment the file name says")
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
