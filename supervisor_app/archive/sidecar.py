"""One archived segment's entry, and its sidecar `<partition>/<9-digit id>.meta.json`.

A sidecar holds exactly one entry: enough to verify the segment later without its source.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from supervisor_app.archive.metadata_files import MAX_SIDECAR_BYTES, Fields, Source, encode_json, read_json

SIDECAR_FORMAT = "chronicle-fleet.raw-segment.v1"
SIDECAR_SUFFIX = ".meta.json"
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


def sidecar_bytes(entry: SegmentEntry) -> bytes:
    return encode_json({"format": SIDECAR_FORMAT, **entry.to_json()})
