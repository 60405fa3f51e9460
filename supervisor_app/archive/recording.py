"""Record an archived segment in its partition's metadata at a cost that does not grow with the partition.

One segment costs: read meta.json and at most two sidecars, then write meta.json and the
segment's sidecar (summary renamed first, one directory fsync). A kill at any instant
leaves a state the next call completes:

- before meta.json is renamed: nothing changed (the temp files are removed on start);
- meta.json renamed, the sidecar not: meta.json's `last_applied` is the entry, so the rerun
  of the same segment counts nothing twice and writes the sidecar; if the rerun never
  comes, the next segment recorded in the partition writes it first (`_settle`).

The caller holds the venue's archive lock, so nothing else writes the partition meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from supervisor_app.archive.layout import META_FILE_NAME
from supervisor_app.archive.meta import (
    LegacyMeta,
    PartitionSummary,
    SegmentEntry,
    load_partition_meta,
    load_sidecar,
    sidecar_bytes,
    sidecar_name,
    summary_bytes,
)
from supervisor_app.durable import write_files_atomically
from supervisor_app.errors import ArchiveConflictError


@dataclass(frozen=True)
class Recorded:
    """What recording a segment did."""

    entry: SegmentEntry  # as recorded: an identical earlier entry is kept with its archived_at_ns
    migrated: int  # entries of a v1 meta.json moved to sidecars first


def record_segment(directory: Path, entry: SegmentEntry, *, venue: str, now_ns: int) -> Recorded:
    """Durably record `entry` in the partition `directory` (whose files are already durable)."""
    meta_path = directory / META_FILE_NAME
    meta = load_partition_meta(meta_path)
    migrated = 0
    if meta is None:
        summary = PartitionSummary(venue=venue, ingest_time_ns=now_ns)
    elif isinstance(meta, LegacyMeta):
        migrated = _migrate(directory, meta)
        summary = meta.summary()
    else:
        summary = meta
        _settle(directory, summary, entry.segment_id)
    sidecar_path = directory / sidecar_name(entry.segment_id)
    on_disk = load_sidecar(sidecar_path)
    applied = summary.last_applied
    in_summary = applied if applied is not None and applied.segment_id == entry.segment_id else None
    for known, where in ((in_summary, meta_path), (on_disk, sidecar_path)):
        if known is not None and not known.same_source(entry):
            raise ArchiveConflictError(f"{where} already records segment {entry.segment_id} with a different checksum")
    counted = in_summary or on_disk  # meta.json is written first: where the two differ, it is the one counted
    if counted is not None and counted.same_archive(entry):
        entry, updated = counted, summary  # counted as it is: keep when it was first archived
    else:
        updated = summary.with_entry(entry, counted)
    writes = []
    if updated != meta:
        writes.append((meta_path, summary_bytes(updated)))  # first: it is what makes the entry count
    if on_disk != entry:
        writes.append((sidecar_path, sidecar_bytes(entry)))
    write_files_atomically(writes)
    return Recorded(entry, migrated)


def _settle(directory: Path, summary: PartitionSummary, recording: int) -> None:
    """Write the sidecar of the summary's last entry if a crash lost it, before that entry is superseded."""
    applied = summary.last_applied
    if applied is None or applied.segment_id == recording:
        return  # recording that segment again rewrites its sidecar anyway
    path = directory / sidecar_name(applied.segment_id)
    on_disk = load_sidecar(path)
    if on_disk == applied:
        return
    if on_disk is not None and not on_disk.same_source(applied):
        raise ArchiveConflictError(f"{path} and meta.json record segment {applied.segment_id} with different checksums")
    write_files_atomically([(path, sidecar_bytes(applied))])


def _migrate(directory: Path, legacy: LegacyMeta) -> int:
    """Give every entry of a v1 meta.json its sidecar, durably; meta.json itself is replaced after."""
    # Until the v2 summary replaces meta.json, the v1 list is the record: a rerun writes these again.
    write_files_atomically([(directory / sidecar_name(e.segment_id), sidecar_bytes(e)) for e in legacy.entries])
    return len(legacy.entries)
