"""A partition's metadata read in whichever format it is on disk: v2 (summary + sidecars), v1, or the reference's.

Format v1 (every entry inline in meta.json) and the reference's meta.json are still read;
`LegacyMeta.summary` is what migrating one to v2 counts. The records live in `sidecar`
(one segment's entry) and `partition_summary` (v2's meta.json); their names are importable
from here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor_app.archive.layout import META_FILE_NAME
from supervisor_app.archive.metadata_files import MAX_META_BYTES, Fields, Source, read_json, shorten
from supervisor_app.archive.partition_summary import (
    ARCHIVE_SECONDS_BUCKETS,
    META_FORMAT,
    PartitionSummary,
    archive_time_bucket,
    summary_bytes,
)
from supervisor_app.archive.sidecar import (
    DATED_BY,
    MAX_SEGMENT_ID,
    SIDECAR_FORMAT,
    SIDECAR_SUFFIX,
    ArchivedFile,
    SegmentEntry,
    ZstdInfo,
    load_sidecar,
    segment_file_names,
    sidecar_bytes,
    sidecar_from_json,
    sidecar_ids,
    sidecar_name,
    sidecar_segment_id,
)

__all__ = [
    "ARCHIVE_SECONDS_BUCKETS",
    "DATED_BY",
    "LEGACY_META_FORMAT",
    "MAX_SEGMENT_ID",
    "META_FORMAT",
    "SIDECAR_FORMAT",
    "SIDECAR_SUFFIX",
    "ArchivedFile",
    "LegacyMeta",
    "PartitionSummary",
    "SegmentEntry",
    "ZstdInfo",
    "archive_time_bucket",
    "current_summary",
    "load_partition_meta",
    "load_sidecar",
    "partition_entries",
    "partition_meta_from_json",
    "segment_file_names",
    "sidecar_bytes",
    "sidecar_from_json",
    "sidecar_ids",
    "sidecar_name",
    "sidecar_segment_id",
    "summary_bytes",
]

LEGACY_META_FORMAT = "chronicle-fleet.raw-meta.v1"

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
