"""One venue's raw archive: staging, publishing, metadata (meta.json + sidecars), the reader lease, progress, verify."""

from supervisor_app.archive.archiver import ArchiverConfig, PassResult, RawArchiver
from supervisor_app.archive.layout import ArchiveLayout, partition_date, validate_venue
from supervisor_app.archive.losses import LossCounter, LossCounts, acknowledge_losses, loss_counts
from supervisor_app.archive.meta import (
    LegacyMeta,
    PartitionSummary,
    SegmentEntry,
    load_partition_meta,
    load_sidecar,
    partition_entries,
)
from supervisor_app.archive.progress import ArchiveProgress, archive_progress
from supervisor_app.archive.queue_lock import LockHolder, queue_lock_holder
from supervisor_app.archive.reader_lease import ReaderLease, refresh_reader
from supervisor_app.archive.recording import record_segment
from supervisor_app.archive.seekable_zstd import SeekIndex, iter_frames, read_at, read_index
from supervisor_app.archive.verify import Finding, VerifyReport, verify_archive

__all__ = [
    "ArchiveLayout",
    "ArchiveProgress",
    "ArchiverConfig",
    "Finding",
    "LegacyMeta",
    "LockHolder",
    "LossCounter",
    "LossCounts",
    "PartitionSummary",
    "PassResult",
    "RawArchiver",
    "ReaderLease",
    "SeekIndex",
    "SegmentEntry",
    "VerifyReport",
    "acknowledge_losses",
    "archive_progress",
    "iter_frames",
    "load_partition_meta",
    "load_sidecar",
    "loss_counts",
    "partition_date",
    "partition_entries",
    "queue_lock_holder",
    "read_at",
    "read_index",
    "record_segment",
    "refresh_reader",
    "validate_venue",
    "verify_archive",
]
