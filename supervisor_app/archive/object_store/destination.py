"""A venue's archive in an object store, as the archiver uses it: open, stage, publish, record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from supervisor_app.archive.destination import Placed
from supervisor_app.archive.object_store.client import S3Client
from supervisor_app.archive.object_store.layout import ObjectLayout
from supervisor_app.archive.object_store.metadata import (
    ObjectPartition,
    load_resets_object,
    record_missing_object,
    record_reset_object,
)
from supervisor_app.archive.object_store.multipart import PartBudget
from supervisor_app.archive.object_store.settings import RetryPolicy, TransferSettings
from supervisor_app.archive.object_store.upload import (
    ObjectTarget,
    StagedUpload,
    publish_upload,
    stage_upload,
)
from supervisor_app.archive.resets import QueueReset
from supervisor_app.archive.staging import StageOptions
from supervisor_app.archive_root import S3Root, StoreSettings


class ObjectDestination:
    """One venue under an `s3://bucket/prefix` root (a destination.Destination); requests retried, then classified."""

    def __init__(
        self,
        root: S3Root,
        settings: StoreSettings,
        venue: str,
        options: StageOptions,
        *,
        log: Any,
        pause: Callable[[float], None],
        progress: Callable[[], None] = lambda: None,
        transfer: TransferSettings | None = None,
    ) -> None:
        """`pause` waits between attempts and may raise to stop; `progress` hears of each part the store acknowledges."""
        transfer = transfer or TransferSettings()
        self._log = log
        self._venue = venue
        self._options = options
        self.layout = ObjectLayout(root, venue)
        retry = RetryPolicy(attempts=transfer.attempts)
        pool = transfer.parts_in_flight + 2
        self.client = S3Client(root, settings, log=log, retry=retry, pool_size=pool, pause=pause)
        self._budget = PartBudget(transfer.parts_in_flight, progress=progress)
        self._target = ObjectTarget(self.client, self.layout, self._budget, transfer.part_size)

    @property
    def description(self) -> str:
        return self.layout.url(self.layout.venue_prefix)

    @property
    def missing_record(self) -> str:
        return self.client.url_of(self.layout.missing_segments_key)

    @property
    def resets_record(self) -> str:
        return self.client.url_of(self.layout.queue_resets_key)

    @contextmanager
    def session(self) -> Iterator[None]:
        """Check the bucket and credentials (exit 78 naming what is wrong), then abort what crashed runs left.

        No lock spans hosts: completes with If-None-Match and conditional metadata writes stand in for one.
        """
        try:
            self.client.check_access(self.layout.venue_prefix)
            self._abort_stale_uploads()
            yield
        finally:
            self._budget.close()
            self.client.close()

    def before_pass(self) -> None:
        pass

    def after_pass(self) -> None:
        self._budget.close()

    def stage(
        self, source: Path, segment_id: int, step: Callable[[], None], *, segment_size: int | None = None
    ) -> StagedUpload:
        return stage_upload(source, segment_id, self._target, self._options, step, segment_size=segment_size)

    def place(self, staged: StagedUpload, now_ns: int, *, step: Callable[[], None]) -> Placed:
        """Complete the uploads and place the index: the segment's objects are then in the store."""
        published = publish_upload(staged, self._target, self._options, now_ns)
        step()
        partition = ObjectPartition(self.client, self.layout, published.date)
        return Placed(published.partition_url, published.entry, partition)

    def record_missing(self, segment_ids: list[int], now_ns: int, *, since_ns: int = 0) -> list[int]:
        return record_missing_object(self.client, self.layout, segment_ids, now_ns, since_ns=since_ns)

    def load_resets(self) -> list[QueueReset]:
        return load_resets_object(self.client, self.layout)

    def record_reset(self, reset: QueueReset) -> None:
        record_reset_object(self.client, self.layout, reset)

    def _abort_stale_uploads(self) -> None:
        for upload in self.client.list_uploads(self.layout.venue_prefix):
            self.client.abort_upload(upload.key, upload.upload_id)
            self._log.info(
                "stale_upload_aborted",
                object=self.client.url_of(upload.key),
                upload_id=upload.upload_id,
                initiated=upload.initiated,
                reason="left by a run that stopped before completing it",
            )
