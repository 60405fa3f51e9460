"""One venue's raw archiver: every sealed segment, in order, into the archive, then commit."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor_app.archive.destination import Destination, Staged, open_destination
from supervisor_app.archive.object_store.settings import TransferSettings
from supervisor_app.archive.reader_lease import ReaderLease
from supervisor_app.archive.seekable_zstd import DEFAULT_BLOCK_SIZE, DEFAULT_LEVEL
from supervisor_app.archive.staging import StageOptions
from supervisor_app.archive_root import ArchiveRoot, StoreSettings
from supervisor_app.chronicle.segment import (
    list_segment_ids,
    read_segment_header,
    segment_name,
)


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
    object_store: StoreSettings | None = None  # for an s3:// root: endpoint, region, addressing style
    transfer: TransferSettings = field(default_factory=TransferSettings)  # for an s3:// root: parts, retries

    @property
    def stage_options(self) -> StageOptions:
        return StageOptions(
            compress=self.compress, retain_raw=self.retain_raw, level=self.level, block_size=self.block_size
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
        self, config: ArchiverConfig, *, log: Any, stop: threading.Event, clock: Callable[[], int] = time.time_ns
    ) -> None:
        self._config = config
        self._destination: Destination = open_destination(
            config.archive_root,
            config.venue,
            config.stage_options,
            must_exist=config.archive_root_must_exist,
            store=config.object_store,
            transfer=config.transfer,
            log=log,
            pause=self._pause,
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
        """Archive, then poll for more, until the stop event is set."""
        with self._session():
            while not self._stop.is_set():
                self._archive_pass()
                self._stop.wait(self._config.poll_ms / 1000)

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
        # One segment is published (fsync, rename, meta.json, commit) while the next is staged.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="publish") as publisher:
            pipeline = _PublishPipeline(publisher)
            try:
                self._walk_queue(lease, pipeline)
            finally:
                pipeline.drain()
        return PassResult(archived=pipeline.published, source_present=True)

    def _walk_queue(self, lease: ReaderLease, pipeline: _PublishPipeline) -> None:
        expected = lease.position().segment_id
        for segment_id in (i for i in list_segment_ids(self._config.source) if i >= expected):
            self._check_stop()
            if segment_id > expected:
                pipeline.drain()
                self._record_missing(list(range(expected, segment_id)))
                lease.commit(segment_id)
            path = self._config.source / segment_name(segment_id)
            try:
                if not read_segment_header(path, expected_id=segment_id).sealed:
                    return  # the writer's current segment: everything after it is newer still
                started = time.monotonic()
                staged = self._destination.stage(path, segment_id, self._check_stop)
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
        lease = ReaderLease(source, self._config.reader_name, clock=self._clock, log=self._log)
        position = lease.open()
        self._lease = lease
        self._log.info(
            "reader_registered", path=str(lease.path), segment_id=position.segment_id, generation=position.generation
        )
        return lease

    def _publish(self, staged: Staged, started: float, lease: ReaderLease) -> None:
        """Make a staged segment durable under its final names, record it, then commit past it."""
        landed = self._destination.publish(staged, self._clock())
        if landed.migrated:
            self._log.info("meta_migrated", partition=landed.where, entries=landed.migrated)
        entry = landed.entry
        lease.commit(staged.segment_id + 1)
        self._log.info(
            "segment_archived",
            segment_id=staged.segment_id,
            destination=landed.where,
            files=[f.name for f in entry.files],
            raw_bytes=entry.raw_size,
            archived_bytes=entry.stored_bytes,
            records=entry.record_count,
            event_time_range=entry.event_time_range,
            duration_s=round(time.monotonic() - started, 3),
        )

    def _record_missing(self, segment_ids: list[int]) -> None:
        new = self._destination.record_missing(segment_ids, self._clock())
        if new:
            self._log.error(
                "segments_missing",
                segment_ids=new,
                source=str(self._config.source),
                record=self._destination.missing_record,
                reason="deleted from the source before they were archived (retention, or by hand)",
            )

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise StopRequested()

    def _pause(self, seconds: float) -> None:
        """Sleep between attempts at a failing request, unless asked to stop."""
        if self._stop.wait(seconds):
            raise StopRequested()


class _PublishPipeline:
    """At most one publish in flight, in segment order, so commits never pass each other."""

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self._executor = executor
        self._in_flight: Future[None] | None = None
        self.published = 0

    def submit(self, publish: Callable[[], None]) -> None:
        self.drain()
        self._in_flight = self._executor.submit(publish)

    def drain(self) -> None:
        """Wait for the publish in flight; its error, if any, is raised here."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()
            self.published += 1
