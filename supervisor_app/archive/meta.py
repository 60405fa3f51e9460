"""`meta.json`: one per partition, the reference's fields plus one entry per archived segment."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from supervisor_app.durable import write_file_atomically
from supervisor_app.errors import CorruptArchiveError

META_FORMAT = "chronicle-fleet.raw-meta.v1"


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
    """What was archived of one segment: enough to verify it later without the source."""

    segment_id: int
    raw_size: int
    raw_crc32: int
    record_count: int
    event_time_range: tuple[int, int] | None
    files: tuple[ArchivedFile, ...]
    zstd: ZstdInfo | None
    archived_at_ns: int

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
    def from_json(cls, data: dict[str, Any]) -> SegmentEntry:
        time_range = data.get("event_time_range")
        zstd = data.get("zstd")
        return cls(
            segment_id=int(data["segment_id"]),
            raw_size=int(data["raw_size"]),
            raw_crc32=int(data["raw_crc32"], 16),
            record_count=int(data["record_count"]),
            event_time_range=(int(time_range[0]), int(time_range[1])) if time_range else None,
            files=tuple(ArchivedFile(name=str(f["name"]), size=int(f["size"])) for f in data["files"]),
            zstd=None
            if zstd is None
            else ZstdInfo(level=zstd["level"], block_size=int(zstd["block_size"]), frames=int(zstd["frames"])),
            archived_at_ns=int(data["archived_at_ns"]),
        )


@dataclass(frozen=True)
class PartitionMeta:
    """The whole `meta.json` of one `<venue>/<date>/raw/` directory."""

    venue: str
    ingest_time_ns: int  # when the partition was first written; kept across updates
    segments: tuple[SegmentEntry, ...] = ()
    symbol_code: str | None = None

    @property
    def event_time_range(self) -> tuple[int, int] | None:
        """Covers every segment in the partition (the reference recorded only the first)."""
        ranges = [s.event_time_range for s in self.segments if s.event_time_range]
        if not ranges:
            return None
        return min(r[0] for r in ranges), max(r[1] for r in ranges)

    def segment(self, segment_id: int) -> SegmentEntry | None:
        return next((s for s in self.segments if s.segment_id == segment_id), None)

    def with_segment(self, entry: SegmentEntry) -> PartitionMeta:
        others = [s for s in self.segments if s.segment_id != entry.segment_id]
        return replace(self, segments=tuple(sorted([*others, entry], key=lambda s: s.segment_id)))

    def to_json(self) -> dict[str, Any]:
        time_range = self.event_time_range
        return {
            "symbol_code": self.symbol_code,
            "venue": self.venue,
            "ingest_time_ns": self.ingest_time_ns,
            "event_time_range": list(time_range) if time_range else None,
            "completeness": "sealed",
            "format": META_FORMAT,
            "segments": [s.to_json() for s in self.segments],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartitionMeta:
        # A reference-written meta.json has no "segments": start the list empty.
        return cls(
            venue=str(data["venue"]),
            ingest_time_ns=int(data["ingest_time_ns"]),
            segments=tuple(SegmentEntry.from_json(s) for s in data.get("segments", [])),
            symbol_code=data.get("symbol_code"),
        )


def load_meta(path: Path) -> PartitionMeta | None:
    """The partition's meta.json, or None when it has none yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return PartitionMeta.from_json(json.loads(text))
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise CorruptArchiveError(f"{path}: unreadable meta.json: {exc}") from exc


def write_meta(path: Path, meta: PartitionMeta) -> None:
    """Atomically replace `path` with `meta` (2-space indented, like the reference)."""
    write_file_atomically(path, (json.dumps(meta.to_json(), indent=2) + "\n").encode("utf-8"))
