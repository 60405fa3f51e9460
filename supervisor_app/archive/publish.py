"""Move a staged segment under its final names, never overwriting different bytes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.archive.checksums import Digest, decoded_digest, file_digest
from supervisor_app.archive.layout import ArchiveLayout, SegmentFiles, partition_date
from supervisor_app.archive.meta import ArchivedFile, SegmentEntry, ZstdInfo
from supervisor_app.archive.seekable_zstd import (
    SeekIndex,
    index_existing_frames,
    read_index,
)
from supervisor_app.archive.staging import StagedSegment, StageOptions
from supervisor_app.chronicle.records import RecordSummary
from supervisor_app.chronicle.segment import segment_name
from supervisor_app.durable import (
    fsync_dir,
    fsync_file,
    make_dirs_durable,
    write_file_atomically,
)
from supervisor_app.errors import ArchiveConflictError, CorruptArchiveError, CorruptSegmentError, UnsafePathError


@dataclass(frozen=True)
class Published:
    """Where a segment landed and the entry (its sidecar's content) that describes it."""

    partition_dir: Path
    files: SegmentFiles
    entry: SegmentEntry


def publish_segment(
    staged: StagedSegment,
    layout: ArchiveLayout,
    options: StageOptions,
    now_ns: int,
    *,
    step: Callable[[], None] = lambda: None,
) -> Published:
    """Rename the staged files into the partition of the segment's earliest event and fsync it.

    `step` is called between the slow steps (fsyncs, checks of files already there).
    """
    try:
        date = partition_date(staged.scan.min_timestamp_ns, staged.mtime_s)
    except ValueError as exc:  # only an mtime can be that far off: a record's u64 timestamp ends in 2554
        staged.discard()
        raise CorruptSegmentError(
            f"segment {segment_name(staged.segment_id)} has no good record to date it by, and its mtime "
            f"({staged.mtime_s:.0f} s) is no date in years 1-9999 ({exc}); give it a real one "
            "(touch -d 'YYYY-MM-DD HH:MM' <queue>/<segment>) and the archiver goes on"
        ) from exc
    files = layout.segment_files(date, staged.segment_id)
    layout.refuse_symlinks(files.raw.parent)
    make_dirs_durable(files.raw.parent, up_to=layout.venue_dir)
    for final in (files.raw, files.zst, files.idx):
        if final.is_symlink():
            raise UnsafePathError(
                f"{final}: is a symbolic link (to {os.readlink(final)}); an archive file must be a regular file"
            )
    source = Digest(staged.raw_size, staged.raw_crc32)
    level: int | None = None
    index: SeekIndex | None = None
    try:
        for tmp in (staged.raw_tmp, staged.zst_tmp):
            if tmp is not None:
                fsync_file(tmp)
                step()
        _place_raw(staged.raw_tmp, files.raw, source)
        step()
        if staged.zst_tmp is not None and staged.index is not None:
            index, kept_existing = _place_zst(staged.zst_tmp, files.zst, staged.index, source)
            level = None if kept_existing else options.level
            step()
            _place_index(index, files.idx)
    finally:
        staged.discard()  # whatever was not renamed into place
    fsync_dir(files.raw.parent)
    fsync_dir(layout.staging_dir)
    step()
    zstd = None if index is None else ZstdInfo(level=level, block_size=index.block_size, frames=len(index.entries))
    entry = scanned_entry(staged.segment_id, source, staged.scan, _present_files(files), zstd, now_ns)
    return Published(files.raw.parent, files, entry)


def scanned_entry(
    segment_id: int,
    source: Digest,
    scan: RecordSummary,
    files: tuple[ArchivedFile, ...],
    zstd: ZstdInfo | None,
    now_ns: int,
) -> SegmentEntry:
    """The sidecar entry of a segment with these bytes, this record scan, archived as `files`."""
    return SegmentEntry(
        segment_id=segment_id,
        raw_size=source.size,
        raw_crc32=source.crc32,
        record_count=scan.record_count,
        event_time_range=_time_range(scan),
        files=files,
        zstd=zstd,
        archived_at_ns=now_ns,
        bad_record_count=scan.bad_record_count,
        first_bad_offset=scan.first_bad_offset,
        truncated=scan.truncated,
        data_after_end=scan.data_after_end,
        dated_by=_dated_by(scan),
    )


def _place_raw(tmp: Path | None, final: Path, source: Digest) -> None:
    if final.exists():
        # Also when we were not asked to write it: an earlier run's `.q` must still be this segment.
        if file_digest(final) != source:
            raise ArchiveConflictError(f"{final} already exists with different bytes; refusing to overwrite it")
        return
    if tmp is not None:
        os.replace(tmp, final)


def _place_zst(tmp: Path, final: Path, index: SeekIndex, source: Digest) -> tuple[SeekIndex, bool]:
    """Return the index of the `.q.zst` now in place, and whether it is an earlier run's file."""
    if not final.exists():
        os.replace(tmp, final)
        return index, False
    import filecmp  # only when an earlier run's file is in the way

    if filecmp.cmp(tmp, final, shallow=False):
        return index, False
    # Same data compressed by another zstd build or level: keep it if it decodes to this segment.
    existing = _existing_index(final, index.block_size)
    if decoded_digest(final, existing) != source:
        raise ArchiveConflictError(
            f"{final} already exists and does not decode to this segment; refusing to overwrite it"
        )
    return existing, True


def _existing_index(zst: Path, block_size: int) -> SeekIndex:
    idx = zst.with_name(zst.name + ".idx")
    if idx.exists():
        try:
            return read_index(idx)
        except CorruptArchiveError:
            pass  # rebuilt below from the frames themselves
    return index_existing_frames(zst, block_size)


def _place_index(index: SeekIndex, final: Path) -> None:
    encoded = index.encode()
    if final.exists():
        if final.read_bytes() != encoded:
            raise ArchiveConflictError(
                f"{final} already exists and does not index {final.name[:-4]}; refusing to overwrite it"
            )
        return
    write_file_atomically(final, encoded)


def _present_files(files: SegmentFiles) -> tuple[ArchivedFile, ...]:
    return tuple(ArchivedFile(p.name, p.stat().st_size) for p in (files.raw, files.zst, files.idx) if p.exists())


def _dated_by(scan: RecordSummary) -> str:
    """What `partition_date` went by: the scan's time range covers good records only."""
    if scan.min_timestamp_ns is None:
        return "mtime"
    return "good_records" if scan.corrupt else "records"


def _time_range(scan: RecordSummary) -> tuple[int, int] | None:
    if scan.min_timestamp_ns is None or scan.max_timestamp_ns is None:
        return None
    return scan.min_timestamp_ns, scan.max_timestamp_ns
