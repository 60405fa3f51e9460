"""One venue's raw archive: staging, publishing, metadata (meta.json + sidecars), the reader lease, progress, verify.

Knows nothing of YAML or processes. The public names are loaded on first use (PEP 562): an
archiver, 64 of which sit beside the feed handlers, must not load `verify` to archive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor_app.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from supervisor_app.archive.archiver import (
        ArchiverConfig,
        PassResult,
        RawArchiver,
    )
    from supervisor_app.archive.layout import (
        ArchiveLayout,
        partition_date,
        validate_venue,
    )
    from supervisor_app.archive.losses import (
        LossCounts,
        acknowledge_losses,
    )
    from supervisor_app.archive.meta import (
        LegacyMeta,
        PartitionSummary,
        SegmentEntry,
        load_partition_meta,
        load_sidecar,
        partition_entries,
    )
    from supervisor_app.archive.progress import (
        ArchiveProgress,
        archive_progress,
    )
    from supervisor_app.archive.queue_lock import (
        LockHolder,
        queue_lock_holder,
    )
    from supervisor_app.archive.reader_lease import (
        ReaderLease,
        refresh_reader,
    )
    from supervisor_app.archive.recording import (
        record_segment,
    )
    from supervisor_app.archive.seekable_zstd import (
        SeekIndex,
        iter_frames,
        read_at,
        read_index,
    )
    from supervisor_app.archive.totals import (
        TotalsReader,
        VenueTotals,
        loss_counts,
    )
    from supervisor_app.archive.verify import (
        Finding,
        VerifyReport,
        verify_archive,
    )

_SOURCES = {
    "ArchiveLayout": "layout",
    "ArchiveProgress": "progress",
    "ArchiverConfig": "archiver",
    "Finding": "verify",
    "LegacyMeta": "meta",
    "LockHolder": "queue_lock",
    "LossCounts": "losses",
    "PartitionSummary": "meta",
    "PassResult": "archiver",
    "RawArchiver": "archiver",
    "ReaderLease": "reader_lease",
    "SeekIndex": "seekable_zstd",
    "SegmentEntry": "meta",
    "TotalsReader": "totals",
    "VenueTotals": "totals",
    "VerifyReport": "verify",
    "acknowledge_losses": "losses",
    "archive_progress": "progress",
    "iter_frames": "seekable_zstd",
    "load_partition_meta": "meta",
    "load_sidecar": "meta",
    "loss_counts": "totals",
    "partition_date": "layout",
    "partition_entries": "meta",
    "queue_lock_holder": "queue_lock",
    "read_at": "seekable_zstd",
    "read_index": "seekable_zstd",
    "record_segment": "recording",
    "refresh_reader": "reader_lease",
    "validate_venue": "layout",
    "verify_archive": "verify",
}

__all__ = [
    "ArchiveLayout",
    "ArchiveProgress",
    "ArchiverConfig",
    "Finding",
    "LegacyMeta",
    "LockHolder",
    "LossCounts",
    "PartitionSummary",
    "PassResult",
    "RawArchiver",
    "ReaderLease",
    "SeekIndex",
    "SegmentEntry",
    "TotalsReader",
    "VenueTotals",
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

__getattr__ = lazy_exports(__name__, _SOURCES)
