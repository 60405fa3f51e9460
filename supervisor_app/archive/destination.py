"""Where the archiver puts a venue's segments: a local directory tree, or an object store (`s3://`).

Both make a segment's files durable under their final names before its metadata is
recorded, and never overwrite different bytes; they differ in how (temp files, fsync and
rename; or multipart uploads completed with If-None-Match and conditional metadata writes).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.object_store.settings import TransferSettings
from supervisor_app.archive.staging import StagedSegment, StageOptions, stage_segment
from supervisor_app.archive_root import S3Root, StoreSettings
from supervisor_app.durable import make_dirs_durable, remove_stale_tmp_files
from supervisor_app.errors import ArchiveBusyError, ArchiveRootError, ArchiveRootMissingError
from supervisor_app.file_lock import exclusive_lock

if TYPE_CHECKING:
    from supervisor_app.archive.meta import SegmentEntry
    from supervisor_app.archive.recording import PartitionStore
    from supervisor_app.archive.resets import QueueReset
    from supervisor_app.chronicle.records import RecordSummary
    from supervisor_app.lock_handover import LockHandover

# What publishes and records a segment (meta.json's code above all) is imported where a segment
# is placed: an archiver with nothing to archive, which is most of them most of the time, skips it.

Step = Callable[[], None]  # called between the steps of the work: checks in, and raises to stop


class Staged(Protocol):
    """A segment read and written (or uploaded) but not yet visible under its final names."""

    @property
    def segment_id(self) -> int: ...

    @property
    def scan(self) -> RecordSummary: ...

    def discard(self) -> None:
        """Drop what staging wrote; nothing under a final name is touched."""


@dataclass(frozen=True)
class Placed:
    """A segment durable under its final names, not yet recorded; the partition to record it in."""

    where: str  # the partition directory, or its s3:// URL
    entry: SegmentEntry  # what its sidecar will hold
    partition: PartitionStore


class Destination(Protocol):
    """What the archiver does with a venue's archive, step by step."""

    @property
    def description(self) -> str: ...

    @property
    def missing_record(self) -> str:
        """Where segments lost before archiving are recorded, for messages."""

    @property
    def resets_record(self) -> str:
        """Where queue resets are recorded, for messages."""

    def session(self) -> AbstractContextManager[None]:
        """Check the root, exclude other writers where that is possible, and clean up after crashed runs."""

    def before_pass(self) -> None: ...

    def after_pass(self) -> None:
        """Let go of what only a pass needs (threads): an idle archiver holds none, and can refresh."""

    def stage(self, source: Path, segment_id: int, step: Step, *, segment_size: int | None = None) -> Staged: ...

    def place(self, staged: Any, now_ns: int, *, step: Step) -> Placed:
        """Make a staged segment durable under its final names (never overwriting other bytes)."""

    def record_missing(self, segment_ids: list[int], now_ns: int, *, since_ns: int = 0) -> list[int]:
        """Record segments lost before archiving; return those not recorded before (see missing.record_missing)."""

    def load_resets(self) -> list[QueueReset]: ...

    def record_reset(self, reset: QueueReset) -> None: ...


class LocalDestination:
    """`<root>/raw/v1/<venue>/`: temp files under `.staging`, fsync, rename, directory fsync."""

    def __init__(
        self,
        root: Path,
        venue: str,
        options: StageOptions,
        *,
        log: Any,
        must_exist: bool = False,
        handover: LockHandover | None = None,
    ) -> None:
        """`must_exist`: a missing root is an unmounted disk (exit 75), never created on the disk below it."""
        self._handover = handover
        self._root = root
        self._venue = venue
        self._options = options
        self._log = log
        self._must_exist = must_exist
        self.layout = ArchiveLayout(root, venue)

    @property
    def description(self) -> str:
        return str(self._root)

    @property
    def missing_record(self) -> str:
        return str(self.layout.missing_segments_path)

    @property
    def resets_record(self) -> str:
        return str(self.layout.queue_resets_path)

    @contextmanager
    def session(self) -> Iterator[None]:
        self._prepare_root()
        # Two archivers on one venue's archive would race on the same temp files.
        lock = self.layout.lock_path
        busy = ArchiveBusyError(f"another archiver holds {lock}")
        with exclusive_lock(lock, held_elsewhere=lambda: busy, follow_symlinks=False, handover=self._handover):
            self._remove_leftovers()
            yield

    def before_pass(self) -> None:
        make_dirs_durable(self.layout.staging_dir)  # an over-eager cleaner may have removed it

    def after_pass(self) -> None:
        pass

    def stage(self, source: Path, segment_id: int, step: Step, *, segment_size: int | None = None) -> StagedSegment:
        staging = self.layout.staging_dir
        return stage_segment(source, segment_id, staging, self._options, step, segment_size=segment_size)

    def place(self, staged: StagedSegment, now_ns: int, *, step: Step) -> Placed:
        from supervisor_app.archive.publish import publish_segment
        from supervisor_app.archive.recording import DirectoryPartition

        published = publish_segment(staged, self.layout, self._options, now_ns, step=step)
        directory = published.partition_dir
        return Placed(str(directory), published.entry, DirectoryPartition(directory))

    def record_missing(self, segment_ids: list[int], now_ns: int, *, since_ns: int = 0) -> list[int]:
        from supervisor_app.archive.missing import record_missing

        path = self.layout.missing_segments_path
        return record_missing(path, self._venue, segment_ids, now_ns, since_ns=since_ns)

    def load_resets(self) -> list[QueueReset]:
        from supervisor_app.archive.resets import load_resets

        return load_resets(self.layout.queue_resets_path)

    def record_reset(self, reset: QueueReset) -> None:
        from supervisor_app.archive.resets import record_reset

        record_reset(self.layout.queue_resets_path, self._venue, reset)

    def _prepare_root(self) -> None:
        root = self._root
        if not root.exists():
            if self._must_exist:
                raise ArchiveRootMissingError(f"archive root {root} does not exist (is it mounted?)")
            self._create_root(root)
        if not root.is_dir():
            raise ArchiveRootError(f"archive root {root} is not a directory")
        staging = self.layout.staging_dir
        self.layout.refuse_symlinks(staging)
        try:
            make_dirs_durable(staging)
        except PermissionError as exc:
            raise ArchiveRootError(f"archive root {root} is not writable: {exc}") from exc
        if os.stat(staging).st_dev != os.stat(self.layout.venue_dir).st_dev:
            # A staged file could never be renamed into place (EXDEV): no retry would help.
            raise ArchiveRootError(
                f"{staging} is on another filesystem than {self.layout.venue_dir} (a mount?): staged files are "
                "renamed into place, so it must be a plain directory on the archive's filesystem"
            )

    def _create_root(self, root: Path) -> None:
        """`mkdir -p` the root, durably; a parent we may not write or that is a file is permanent."""
        try:
            make_dirs_durable(root)
        except (PermissionError, NotADirectoryError) as exc:
            raise ArchiveRootError(f"archive root {root} cannot be created: {exc}") from exc
        self._log.info("archive_root_created", archive_root=str(root))

    def _remove_leftovers(self) -> None:
        """Temp files of a crashed run: never under a final name, so safe to drop (we hold the lock)."""
        for directory in [self.layout.venue_dir, self.layout.staging_dir, *self.layout.partition_dirs()]:
            for path in remove_stale_tmp_files(directory):
                self._log.info("stale_tmp_removed", path=str(path))


def open_destination(
    root: Path | S3Root,
    venue: str,
    options: StageOptions,
    *,
    must_exist: bool = False,
    store: StoreSettings | None = None,
    transfer: TransferSettings | None = None,
    log: Any,
    pause: Callable[[float], None],
    progress: Callable[[], None],
    handover: LockHandover | None = None,
) -> Destination:
    """The destination `root` names; the object-store client (botocore) is imported only for an `s3://` root.

    `pause` waits between attempts at a failing request and may raise to stop; `progress` is
    called whenever the store acknowledges a part (upload threads included).
    """
    if isinstance(root, S3Root):
        from supervisor_app.archive.object_store.destination import ObjectDestination

        settings = store or StoreSettings()
        return ObjectDestination(
            root, settings, venue, options, log=log, pause=pause, progress=progress, transfer=transfer
        )
    return LocalDestination(root, venue, options, log=log, must_exist=must_exist, handover=handover)
