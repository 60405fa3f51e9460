"""Record an archived segment in its partition's metadata at a cost that does not grow with the partition.

One segment costs: read meta.json and at most two sidecars, then write meta.json and the
segment's sidecar (summary renamed first, one directory fsync). A kill at any instant
leaves a state the next call completes:

- before meta.json is renamed: nothing changed (the temp files are removed on start);
- meta.json renamed, the sidecar not: meta.json's `last_applied` is the entry, so the rerun
  of the same segment counts nothing twice and writes the sidecar; if the rerun never
  comes, the next segment recorded in the partition writes it first (`_settle`).

The caller holds the venue's archive lock, so nothing else writes the partition meanwhile
(in an object store, where there is no lock, conditional writes stand in for it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

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


class PartitionStore(Protocol):
    """A partition's metadata files, each read and written whole: a directory, or objects under a key prefix."""

    def read_meta(self) -> PartitionSummary | LegacyMeta | None: ...

    def read_sidecar(self, segment_id: int) -> SegmentEntry | None: ...

    def write(self, files: Sequence[tuple[str, bytes]]) -> None:
        """Publish each (name, content) whole, in the order given: a kill leaves a prefix of them done."""

    def where(self, name: str) -> str:
        """The file's path or object URL, for messages."""


@dataclass(frozen=True)
class DirectoryPartition:
    """A partition directory on a local filesystem: temp file, fsync, rename, one directory fsync."""

    directory: Path

    def read_meta(self) -> PartitionSummary | LegacyMeta | None:
        return load_partition_meta(self.directory / META_FILE_NAME)

    def read_sidecar(self, segment_id: int) -> SegmentEntry | None:
        return load_sidecar(self.directory / sidecar_name(segment_id))

    def write(self, files: Sequence[tuple[str, bytes]]) -> None:
        write_files_atomically([(self.directory / name, data) for name, data in files])

    def where(self, name: str) -> str:
        return str(self.directory / name)


@dataclass(frozen=True)
class Recorded:
    """What recording a segment did."""

    entry: SegmentEntry  # as recorded: an identical earlier entry is kept with its archived_at_ns
    migrated: int  # entries of a v1 meta.json moved to sidecars first


def record_segment(directory: Path, entry: SegmentEntry, *, venue: str, now_ns: int) -> Recorded:
    """Durably record `entry` in the partition `directory` (whose files are already durable)."""
    return record_entry(DirectoryPartition(directory), entry, venue=venue, now_ns=now_ns)


def record_entry(store: PartitionStore, entry: SegmentEntry, *, venue: str, now_ns: int) -> Recorded:
    """Record `entry` in the partition `store` holds (the segment's own files are already durable)."""
    meta = store.read_meta()
    migrated = 0
    if meta is None:
        summary = PartitionSummary(venue=venue, ingest_time_ns=now_ns)
    elif isinstance(meta, LegacyMeta):
        migrated = _migrate(store, meta)
        summary = meta.summary()
    else:
        summary = meta
        _settle(store, summary, entry.segment_id)
    on_disk = store.read_sidecar(entry.segment_id)
    applied = summary.last_applied
    in_summary = applied if applied is not None and applied.segment_id == entry.segment_id else None
    for known, name in ((in_summary, META_FILE_NAME), (on_disk, sidecar_name(entry.segment_id))):
        if known is not None and not known.same_source(entry):
            raise ArchiveConflictError(
                f"{store.where(name)} already records segment {entry.segment_id} with a different checksum"
            )
    counted = in_summary or on_disk  # meta.json is written first: where the two differ, it is the one counted
    if counted is not None and counted.same_archive(entry):
        entry, updated = counted, summary  # counted as it is: keep when it was first archived
    else:
        updated = summary.with_entry(entry, counted)
    writes = []
    if updated != meta:
        writes.append((META_FILE_NAME, summary_bytes(updated)))  # first: it is what makes the entry count
    if on_disk != entry:
        writes.append((sidecar_name(entry.segment_id), sidecar_bytes(entry)))
    store.write(writes)
    return Recorded(entry, migrated)


def _settle(store: PartitionStore, summary: PartitionSummary, recording: int) -> None:
    """Write the sidecar of the summary's last entry if a crash lost it, before that entry is superseded."""
    applied = summary.last_applied
    if applied is None or applied.segment_id == recording:
        return  # recording that segment again rewrites its sidecar anyway
    on_disk = store.read_sidecar(applied.segment_id)
    if on_disk == applied:
        return
    name = sidecar_name(applied.segment_id)
    if on_disk is not None and not on_disk.same_source(applied):
        raise ArchiveConflictError(
            f"{store.where(name)} and meta.json record segment {applied.segment_id} with different checksums"
        )
    store.write([(name, sidecar_bytes(applied))])


def _migrate(store: PartitionStore, legacy: LegacyMeta) -> int:
    """Give every entry of a v1 meta.json its sidecar, durably; meta.json itself is replaced after."""
    # Until the v2 summary replaces meta.json, the v1 list is the record: a rerun writes these again.
    store.write([(sidecar_name(e.segment_id), sidecar_bytes(e)) for e in legacy.entries])
    return len(legacy.entries)
