"""One venue's raw archive: staging, publishing, meta.json, the reader lease, progress and verification."""

from supervisor_app.archive.archiver import ArchiverConfig, PassResult, RawArchiver
from supervisor_app.archive.layout import ArchiveLayout, partition_date, validate_venue
from supervisor_app.archive.meta import PartitionMeta, SegmentEntry, load_meta
from supervisor_app.archive.progress import ArchiveProgress, archive_progress
from supervisor_app.archive.reader_lease import ReaderLease, refresh_reader
from supervisor_app.archive.seekable_zstd import SeekIndex, iter_frames, read_at, read_index
from supervisor_app.archive.verify import Finding, VerifyReport, verify_archive

__all__ = [
    "ArchiveLayout",
    "ArchiveProgress",
    "ArchiverConfig",
    "Finding",
    "PartitionMeta",
    "PassResult",
    "RawArchiver",
    "ReaderLease",
    "SeekIndex",
    "SegmentEntry",
    "VerifyReport",
    "archive_progress",
    "iter_frames",
    "load_meta",
    "partition_date",
    "read_at",
    "read_index",
    "refresh_reader",
    "validate_venue",
    "verify_archive",
]
