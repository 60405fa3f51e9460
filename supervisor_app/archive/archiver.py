"""One venue's raw archiver: every sealed segment, in order, into the archive, then commit."""

from __future__ import annotations

import functools
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supervisor_app.archive.compress_slots import CompressSlots
from supervisor_app.archive.destination import Destination, Placed, Staged, open_destination
from supervisor_app.archive.object_store.settings import TransferSettings
from supervisor_app.archive.reader_lease import LIVENESS_TIMEOUT_S, Liveness, ReaderLease
from supervisor_app.archive.refresh import RefreshClock, refresh_in_place
from supervisor_app.archive.seekable_zstd import DEFAULT_BLOCK_SIZE, DEFAULT_LEVEL
from supervisor_app.archive.staging import StageOptions
from supervisor_app.archive_root import ArchiveRoot, StoreSettings
from supervisor_app.chronicle.segment import (
    list_segment_ids,
    queue_segment_size,
    read_segment_header,
    segment_name,
)
from supervisor_app.errors import ArchiveConflictError, CorruptArchiveError, CorruptSegmentError
from supervisor_app.heap import trim_heap
from supervisor_app.worker_threads import WorkerThreads

if TYPE_CHECKING:
    from supervisor_app.archive.meta import SegmentEntry
    from supervisor_app.lock_handover import LockHandover
    from supervisor_app.worker_threads import Task


@dataclass(frozen=True)
class ArchiverConfig:
    """Everything one archiver process needs (the CLI builds it from its flags)."""

    source: Path
    archive_root: ArchiveRoot  # a directory, or s3://bucket/prefix
    venue: str
    compress: bool = False
    retain_raw: bool = False
    level: int = DEFAULT_LEVEL
    block_size: int = DEFAULT_BLOCK_SIZE
    reader_name: str = "raw-archiver"
    poll_ms: int = 1000
    # A root on its own mount must not be recreated on the disk below it while unmounted.
    archive_root_must_exist: bool = False
    liveness_timeout_s: float = LIVENESS_TIMEOUT_S
    compress_threads: int | None = None  # None: the cores it may use, at most 4
    compress_slots: CompressSlots | None = None  # the host's cap on compression threads, if any
    object_store: StoreSettings | None = None  # for an s3:// root: endpoint, region, addressing style
    transfer: TransferSettings = field(default_factory=TransferSettings)  # for an s3:// root: parts, retries
    # Idle this long after archiving: re-exec (same pid, locks kept) to give back what the work loaded.
    refresh_when_idle_s: float | None = None

    @property
    def stage_options(self) -> StageOptions:
        return StageOptions(
            compress=self.compress,
            retain_raw=self.retain_raw,
            level=self.level,
            block_size=self.block_size,
            compress_threads=self.compress_threads,
            compress_slots=self.compress_slots,
        )


@dataclass(frozen=True)
class PassResult:
    """What one pass over the queue did."""

    archived: int
    source_present: bool


class StopRequested(Exception):
    """SIGTERM/SIGINT arrived: abandon the segment in progress (its temp files are removed)."""


class RawArchiver:
    """Archives one venue's sealed segments; safe to kill at any instant and rerun."""

    def __init__(
        self,
        config: ArchiverConfig,
        *,
        log: Any,
        stop: threading.Event,
        clock: Callable[[], int] = time.time_ns,
        handover: LockHandover | None = None,
    ) -> None:
        """`handover`: the process's lock files, kept across a refresh (`config.refresh_when_idle_s`)."""
        self._config = config
        self._handover = handover
        self._liveness = Liveness(config.liveness_timeout_s)
        self._destination: Destination = open_destination(
            config.archive_root,
            config.venue,
            config.stage_options,
            must_exist=config.archive_root_must_exist,
            store=config.object_store,
            transfer=config.transfer,
            log=log,
            pause=self._pause,
            progress=self._liveness.check_in,
            handover=handover,
        )
        self._log = log
        self._stop = stop
        self._clock = clock
        self._lease: ReaderLease | None = None
        self._said_source_missing = False

    def run_once(self) -> PassResult:
        """Archive what is sealed now, then return."""
        with self._session():
            return self._archive_pass()

    def run_loop(self) -> None:
        """Archive, then poll for more, until the stop event is set (or the process refreshes, see refresh.py)."""
        refresh = RefreshClock(self._config.refresh_when_idle_s if self._handover is not None else None)
        with self._session():
            while not self._stop.is_set():
                archived = self._archive_pass().archived
                if self._handover is not None:
                    self._handover.close_unadopted()  # a first pass has taken every lock this image takes
                if archived:
                    trim_heap()  # the burst's buffers go back to the host, not to an idle archiver's RSS
                refresh.passed(archived)
                if self._handover is not None and (idle_s := refresh.due()) is not None:
                    refresh_in_place(self._handover, self._lease, self._log, idle_s, self._stop)
                    refresh.reset()  # it could not: go on as we are, and try again after the next work
                self._idle(self._config.poll_ms / 1000)

    def _idle(self, seconds: float) -> None:
        """Wait for the next poll, checking in meanwhile: an idle loop is alive (the poll may outlast the timeout)."""
        deadline = time.monotonic() + seconds
        slice_s = self._liveness.timeout_s / 4
        while (left := deadline - time.monotonic()) > 0:
            self._liveness.check_in()
            if self._stop.wait(min(left, slice_s)):
                return

    @contextmanager
    def _session(self) -> Iterator[None]:
        with self._destination.session():
            try:
                yield
            except StopRequested:
                self._log.info("archiver_stopping", reason="signal")
            finally:
                if self._lease is not None:
                    self._lease.close()
                    self._lease = None

    def _archive_pass(self) -> PassResult:
        lease = self._ensure_lease()
        if lease is None:
            return PassResult(archived=0, source_present=False)
        self._destination.before_pass()
        try:
            with _PublishPipeline() as pipeline:
                self._walk_queue(lease, pipeline)
        finally:
            self._destination.after_pass()
        return PassResult(archived=pipeline.published, source_present=True)

    def _walk_queue(self, lease: ReaderLease, pipeline: _PublishPipeline) -> None:
        ids = list_segment_ids(self._config.source)
        expected = lease.position().segment_id
        if ids and ids[-1] < expected:
            expected = self._queue_reset(lease, expected, ids)
        segment_size = queue_segment_size(self._config.source)  # a sealed segment shorter than this was cut
        for segment_id in (i for i in ids if i >= expected):
            self._step()
            if segment_id > expected:
                pipeline.drain()
                self._record_missing(list(range(expected, segment_id)))
                lease.commit(segment_id)
            path = self._config.source / segment_name(segment_id)
            try:
                _check_segment_file(path)
                if not read_segment_header(path, expected_id=segment_id).sealed:
                    return  # the writer's current segment: everything after it is newer still
                started = time.monotonic()
                staged = self._destination.stage(path, segment_id, self._step, segment_size=segment_size)
            except FileNotFoundError:
                if path.exists():
                    raise  # something of ours vanished (the staging directory?), not the segment
                # Listed a moment ago, gone now: retention got to it first.
                pipeline.drain()
                self._record_missing([segment_id])
                lease.commit(segment_id + 1)
            else:
                try:
                    pipeline.submit(functools.partial(self._publish, staged, started, lease))
                except BaseException:
                    staged.discard()  # the previous publish failed; this one will never run
                    raise
            expected = segment_id + 1

    def _ensure_lease(self) -> ReaderLease | None:
        if self._lease is not None:
            return self._lease
        source = self._config.source
        if not source.is_dir():
            if not self._said_source_missing:
                self._log.warning("source_missing", source=str(source), action="waiting for the queue to appear")
                self._said_source_missing = True
            return None
        lease = ReaderLease(
            source,
            self._config.reader_name,
            clock=self._clock,
            log=self._log,
            liveness=self._liveness,
            venue=self._config.venue,
            archive_root=self._config.archive_root,
            handover=self._handover,
        )
        position = lease.open()
        self._lease = lease
        self._log.info(
            "reader_registered", path=str(lease.path), segment_id=position.segment_id, generation=position.generation
        )
        return lease

    def _queue_reset(self, lease: ReaderLease, position: int, ids: list[int]) -> int:
        """Every segment in the queue is below our position: its ids restarted. Move down to the oldest, loudly.

        Our writer's segment at the position (unsealed, or sealed and next to be archived)
        is normal; a queue with no segment at all is one being created. Only a queue whose
        every segment is below the position was recreated with its old readers/ kept, and
        retention would delete all of it, since our reader says we are past it.
        """
        from supervisor_app.archive.resets import QueueReset  # with meta.json's code: see destination.py

        reset = QueueReset(self._clock(), position, ids[0], ids[-1], str(self._config.source))
        self._destination.record_reset(reset)
        self._log.error(
            "queue_reset",
            previous_position=position,
            oldest_segment=ids[0],
            newest_segment=ids[-1],
            source=str(self._config.source),
            record=self._destination.resets_record,
            action=f"moving the reader position down to segment {ids[0]}, so that retention keeps the queue, "
            "and archiving it; an id archived before with other bytes stops the archiver (exit 78)",
        )
        lease.commit(ids[0])
        return ids[0]

    def _publish(self, staged: Staged, started: float, lease: ReaderLease) -> None:
        """Make a staged segment durable under its final names, record it, then commit past it."""
        self._liveness.check_in()
        try:
            placed = self._destination.place(staged, self._clock(), step=self._liveness.check_in)
            archive_ms = round((time.monotonic() - started) * 1000)  # staged, durable: what the histogram measures
            placed = replace(placed, entry=replace(placed.entry, archive_ms=archive_ms))
            entry = self._record(placed)
        except ArchiveConflictError as conflict:
            raise self._explained(conflict, staged.segment_id) from conflict
        self._liveness.check_in()
        if entry.corrupt:
            self._log_corrupt(entry, placed)
        lease.commit(staged.segment_id + 1)
        self._log.info(
            "segment_archived",
            segment_id=staged.segment_id,
            destination=placed.where,
            files=[f.name for f in entry.files],
            raw_bytes=entry.raw_size,
            archived_bytes=entry.stored_bytes,
            records=entry.record_count,
            event_time_range=entry.event_time_range,
            duration_s=round(time.monotonic() - started, 3),
        )

    def _log_corrupt(self, entry: SegmentEntry, placed: Placed) -> None:
        self._log.error(
            "segment_corrupt",
            segment_id=entry.segment_id,
            source=str(self._config.source / segment_name(entry.segment_id)),
            found=entry.findings_text(),
            first_bad_offset=entry.first_bad_offset,
            bad_record_count=entry.bad_record_count,
            truncated=entry.truncated,
            data_after_end=entry.data_after_end,
            dated_by=entry.dated_by,
            destination=placed.where,
            action="archived byte for byte as it is; verify reports it until it is acknowledged",
        )

    def _record(self, placed: Placed) -> SegmentEntry:
        """The segment's sidecar and its partition's meta.json, durably (a v1 meta.json is migrated first)."""
        from supervisor_app.archive.recording import record_entry

        recorded = record_entry(placed.partition, placed.entry, venue=self._config.venue, now_ns=self._clock())
        if recorded.migrated:
            self._log.info("meta_migrated", partition=placed.where, entries=recorded.migrated)
        return recorded.entry

    def _explained(self, conflict: ArchiveConflictError, segment_id: int) -> ArchiveConflictError:
        """The conflict, with what to do about it when a queue reset explains it."""
        path = self._destination.resets_record
        try:
            resets = [r for r in self._destination.load_resets() if r.covers(segment_id)]
        except CorruptArchiveError:
            return conflict  # the record's own damage is reported by verify; the conflict stands as it is
        if not resets:
            return conflict
        return ArchiveConflictError(
            f"{conflict}: the queue's segment ids restarted below what was archived (queue_reset, recorded in "
            f"{path}), and its segment {segment_id} is not the one archived under that id. To archive the new "
            "queue, give the venue a new name in the config (its archive then starts afresh) and reload; until "
            "then the venue is held and the reader lease keeps the queue's segments"
        )

    def _record_missing(self, segment_ids: list[int]) -> None:
        # Ids before the last queue reset were another queue's: those losses do not stand for these.
        since = max((r.detected_at_ns for r in self._destination.load_resets()), default=0)
        new = self._destination.record_missing(segment_ids, self._clock(), since_ns=since)
        if new:
            self._log.error(
                "segments_missing",
                segment_ids=new,
                source=str(self._config.source),
                record=self._destination.missing_record,
                reason="deleted from the source before they were archived (retention, or by hand)",
            )

    def _step(self) -> None:
        """Between two steps of the work (staging windows, segments): check in, and stop if asked."""
        self._liveness.check_in()
        if self._stop.is_set():
            raise StopRequested()

    def _pause(self, seconds: float) -> None:
        """Wait between attempts at a failing request (an object store): alive meanwhile, unless asked to stop."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self._liveness.check_in()
            if self._stop.wait(min(left, self._liveness.timeout_s / 4)):
                raise StopRequested()


def _check_segment_file(path: Path) -> None:
    """CorruptSegmentError unless `path` is a regular file (a directory or a FIFO under a segment's name is no segment)."""
    mode = os.stat(path).st_mode  # FileNotFoundError: the caller's (retention got there first)
    if not stat.S_ISREG(mode):
        kind = "directory" if stat.S_ISDIR(mode) else "FIFO" if stat.S_ISFIFO(mode) else "special file"
        raise CorruptSegmentError(f"{path}: is a {kind}, not a segment file; move it out of the queue")


class _PublishPipeline:
    """One segment is published (fsync, rename, meta.json, commit) while the next is staged.

    At most one publish in flight, in segment order, so commits never pass each other. Its
    thread starts with the first segment.
    """

    def __init__(self) -> None:
        self._executor: WorkerThreads | None = None
        self._in_flight: Task[None] | None = None
        self.published = 0

    def __enter__(self) -> _PublishPipeline:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.drain()
        finally:
            if self._executor is not None:
                self._executor.shutdown()

    def submit(self, publish: Callable[[], None]) -> None:
        self.drain()
        if self._executor is None:
            self._executor = WorkerThreads(1, "publish")
        self._in_flight = self._executor.submit(publish)

    def drain(self) -> None:
        """Wait for the publish in flight; its error, if any, is raised here."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()
            self.published += 1
