"""One sealed segment into an object store: a survey, one streaming pass into multipart uploads, then complete.

S3 wants two things before a multipart upload's first byte: its key, whose date comes
from the segment's earliest record, and its user metadata, which is where the raw size
and CRC-32 go so that a rerun can tell an object it finds from this segment's bytes
without downloading it. So a survey reads the segment first (mapped a window at a time,
from the page cache where a sealed segment usually still is): record headers only, no
payload CRCs, for the date, and the CRC-32 of the bytes. Then one pass reads it again and
feeds the record scan (every check, the exact date of the first good record), the CRC-32
and the compression straight into multipart uploads, a few parts in flight: no local
copy of the segment.

A segment whose earliest records are damaged may date differently once the payload CRCs
are checked: its uploads are aborted and it goes again under the right date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.archive.checksums import Digest
from supervisor_app.archive.layout import partition_date
from supervisor_app.archive.meta import ArchivedFile, SegmentEntry, ZstdInfo
from supervisor_app.archive.object_store.client import ObjectInfo, S3Client, UploadedPart
from supervisor_app.archive.object_store.existing_objects import (
    META_BLOCK_SIZE,
    META_ZSTD_LEVEL,
    existing_index,
    existing_object,
    object_metadata,
    recorded_zstd_level,
)
from supervisor_app.archive.object_store.layout import ObjectLayout, SegmentKeys
from supervisor_app.archive.object_store.multipart import DEFAULT_PART_SIZE, MultipartWriter, PartBudget
from supervisor_app.archive.object_store.segment_passes import Survey, stream_segment, survey_segment
from supervisor_app.archive.object_store.wire import PreconditionFailed, UploadMissing
from supervisor_app.archive.publish import scanned_entry
from supervisor_app.archive.seekable_zstd import SeekIndex
from supervisor_app.archive.staging import StageOptions
from supervisor_app.chronicle.records import RecordSummary
from supervisor_app.errors import (
    ArchiveConflictError,
    ChronicleFleetError,
    ObjectStoreUnavailableError,
    TemporaryError,
)


@dataclass(frozen=True)
class ObjectTarget:
    """Where a venue's uploads go, and the part budget they share."""

    client: S3Client
    layout: ObjectLayout
    budget: PartBudget
    part_size: int = DEFAULT_PART_SIZE


@dataclass(frozen=True)
class PendingUpload:
    """A multipart upload whose parts the store acknowledged, waiting for CompleteMultipartUpload."""

    key: str
    upload_id: str
    parts: tuple[UploadedPart, ...]
    size: int


Placed = PendingUpload | ObjectInfo | None  # to complete, already in the store (an earlier run's), or not wanted


@dataclass(frozen=True)
class StagedUpload:
    """A segment's objects uploaded, not yet completed (nothing is visible under a final key), and what the pass learned."""

    segment_id: int
    raw_size: int
    raw_crc32: int
    mtime_s: float
    scan: RecordSummary
    date: dt.date
    keys: SegmentKeys
    raw: Placed
    zst: Placed
    index: SeekIndex | None  # of the `.q.zst` once in place: ours, or the existing object's
    index_placed: bool  # the `.q.zst.idx` is in the store already
    zstd_level: int | None  # None: an earlier run's object that does not say
    client: S3Client

    @property
    def digest(self) -> Digest:
        return Digest(self.raw_size, self.raw_crc32)

    def discard(self) -> None:
        """Abort the uploads (best effort: a later start aborts what is left)."""
        for placed in (self.raw, self.zst):
            if isinstance(placed, PendingUpload):
                with suppress(ChronicleFleetError, OSError):
                    self.client.abort_upload(placed.key, placed.upload_id)


@dataclass(frozen=True)
class ObjectPublished:
    """Where a segment landed in the store and the entry (its sidecar's content) that describes it."""

    date: dt.date
    partition_url: str
    entry: SegmentEntry


def stage_upload(
    source: Path,
    segment_id: int,
    target: ObjectTarget,
    options: StageOptions,
    check_stop: Callable[[], None],
    *,
    segment_size: int | None = None,
) -> StagedUpload:
    """Upload the segment's objects (not completed) under the partition of its earliest good record."""
    survey = survey_segment(source, check_stop)
    date = dt.date.fromisoformat(partition_date(survey.first_timestamp_ns, survey.mtime_s))
    staged = _stage_at(date, source, segment_id, survey, target, options, check_stop, segment_size)
    scanned_date = dt.date.fromisoformat(partition_date(staged.scan.min_timestamp_ns, staged.mtime_s))
    if scanned_date == date:
        return staged
    # Its earliest records by header failed their payload CRC: the good ones date it elsewhere.
    staged.discard()
    return _stage_at(scanned_date, source, segment_id, survey, target, options, check_stop, segment_size)


def publish_upload(staged: StagedUpload, target: ObjectTarget, options: StageOptions, now_ns: int) -> ObjectPublished:
    """Complete the uploads (never over an object with other bytes), place the index, and describe the result."""
    client = target.client
    raw = _complete(client, staged.raw, staged)
    zst = _complete(client, staged.zst, staged)
    idx: ObjectInfo | None = None
    if staged.index is not None:
        idx = _place_index(client, staged.keys.idx, staged.index, staged)
    files = [
        ArchivedFile(key.rsplit("/", 1)[1], info.size)
        for key, info in ((staged.keys.raw, raw), (staged.keys.zst, zst), (staged.keys.idx, idx))
        if info is not None
    ]
    index = staged.index
    zstd = (
        None
        if index is None or zst is None
        else ZstdInfo(level=staged.zstd_level, block_size=index.block_size, frames=len(index.entries))
    )
    entry = scanned_entry(staged.segment_id, staged.digest, staged.scan, tuple(files), zstd, now_ns)
    partition = target.layout.partition_prefix(staged.date)
    return ObjectPublished(staged.date, client.url_of(partition.rstrip("/")), entry)


# --- staging --------------------------------------------------------------------------------------------------------


def _stage_at(
    date: dt.date,
    source: Path,
    segment_id: int,
    survey: Survey,
    target: ObjectTarget,
    options: StageOptions,
    check_stop: Callable[[], None],
    segment_size: int | None,
) -> StagedUpload:
    client = target.client
    keys = target.layout.segment_keys(date, segment_id)
    # An earlier run's object must hold this segment, even one we were not asked to write (like a local `.q`).
    raw_there = existing_object(client, keys.raw, survey.digest)
    zst_there = existing_object(client, keys.zst, survey.digest) if options.compress else None
    metadata = object_metadata(segment_id, survey.digest)
    zst_metadata = object_metadata(
        segment_id, survey.digest, **{META_ZSTD_LEVEL: options.level, META_BLOCK_SIZE: options.block_size}
    )
    raw_writer = _start(target, keys.raw, metadata) if options.writes_raw and raw_there is None else None
    zst_writer: MultipartWriter | None = None
    try:
        if options.compress and zst_there is None:
            zst_writer = _start(target, keys.zst, zst_metadata)
        scan, digest, index = stream_segment(source, options, raw_writer, zst_writer, check_stop, segment_size)
        if digest != survey.digest:
            raise TemporaryError(
                f"{source} changed while it was archived ({survey.size} bytes, CRC-32 {survey.crc32:08x} when surveyed;"
                f" {digest.size} bytes, CRC-32 {digest.crc32:08x} when uploaded)"
            )
        raw = _pending(raw_writer) if raw_writer is not None else raw_there
        zst = _pending(zst_writer) if zst_writer is not None else zst_there
        index_placed = False
        level: int | None = options.level
        if zst_writer is None and isinstance(zst_there, ObjectInfo):
            index, index_placed = existing_index(client, keys, zst_there, survey.digest, options.block_size)
            level = recorded_zstd_level(zst_there.metadata.get(META_ZSTD_LEVEL))
    except BaseException:
        for writer in (raw_writer, zst_writer):
            if writer is not None:
                with suppress(ChronicleFleetError, OSError):
                    writer.abort()
        raise
    return StagedUpload(
        segment_id=segment_id,
        raw_size=digest.size,
        raw_crc32=digest.crc32,
        mtime_s=survey.mtime_s,
        scan=scan,
        date=date,
        keys=keys,
        raw=raw,
        zst=zst,
        index=index,
        index_placed=index_placed,
        zstd_level=level,
        client=client,
    )


def _start(target: ObjectTarget, key: str, metadata: Mapping[str, str]) -> MultipartWriter:
    upload_id = target.client.create_upload(key, metadata)
    return MultipartWriter(target.client, key, upload_id, part_size=target.part_size, budget=target.budget)


def _pending(writer: MultipartWriter) -> PendingUpload:
    parts = writer.finish()
    return PendingUpload(writer.key, writer.upload_id, tuple(parts), writer.size)


# --- publishing -----------------------------------------------------------------------------------------------------


def _complete(client: S3Client, placed: Placed, staged: StagedUpload) -> ObjectInfo | None:
    """Complete a pending upload with If-None-Match: *; an object already there must hold this segment."""
    if not isinstance(placed, PendingUpload):
        return placed
    try:
        client.complete_upload(placed.key, placed.upload_id, placed.parts)
    except (PreconditionFailed, UploadMissing):
        # Someone else's object, or ours: an earlier attempt of this complete that landed.
        try:
            there = existing_object(client, placed.key, staged.digest)
        finally:
            client.abort_upload(placed.key, placed.upload_id)
        if there is None:
            raise ObjectStoreUnavailableError(
                f"the upload of {client.url_of(placed.key)} was aborted by someone else (another archiver starting"
                " on this prefix, or a lifecycle rule); the segment goes again on the next run"
            ) from None
        return there
    return ObjectInfo(placed.key, placed.size, "", object_metadata(staged.segment_id, staged.digest))


def _place_index(client: S3Client, key: str, index: SeekIndex, staged: StagedUpload) -> ObjectInfo:
    data = index.encode()
    info = ObjectInfo(key, len(data), "")
    if staged.index_placed:
        return info
    metadata = object_metadata(staged.segment_id, staged.digest, **{META_BLOCK_SIZE: index.block_size})
    try:
        client.put(key, data, metadata=metadata, if_none_match=True)
    except PreconditionFailed:
        found = client.get(key)
        if found is None or found[0] != data:
            raise ArchiveConflictError(
                f"{client.url_of(key)} already exists and does not index {key.rsplit('/', 1)[1][:-4]};"
                " refusing to overwrite it"
            ) from None
    return info
