"""A venue's archive in an object store, as the archiver uses it: open, stage, publish, record."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from supervisor_app.archive.destination import Landed
from supervisor_app.archive.object_store.client import S3Client
from supervisor_app.archive.object_store.layout import ObjectLayout
from supervisor_app.archive.object_store.metadata import ObjectPartition, record_missing_object
from supervisor_app.archive.object_store.multipart import PartBudget
from supervisor_app.archive.object_store.settings import RetryPolicy, TransferSettings
from supervisor_app.archive.object_store.upload import (
    ObjectTarget,
    StagedUpload,
    publish_upload,
    stage_upload,
)
from supervisor_app.archive.recording import record_entry
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
        transfer: TransferSettings | None = None,
    ) -> None:
        transfer = transfer or TransferSettings()
        self._log = log
        self._venue = venue
        self._options = options
        self.layout = ObjectLayout(root, venue)
        retry = RetryPolicy(attempts=transfer.attempts)
        pool = transfer.parts_in_flight + 2
        self.client = S3Client(root, settings, log=log, retry=retry, pool_size=pool, pause=pause)
        self._budget = PartBudget(transfer.parts_in_flight)
        self._target = ObjectTarget(self.client, self.layout, self._budget, transfer.part_size)

    @property
    def description(self) -> str:
        return self.layout.url(self.layout.venue_prefix)

    @property
    def missing_record(self) -> str:
        return self.client.url_of(self.layout.missing_segments_key)

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

    def stage(
        self, source: Path, segment_id: int, check_stop: Callable[[], None], *, segment_size: int | None = None
    ) -> StagedUpload:
        return stage_upload(source, segment_id, self._target, self._options, check_stop, segment_size=segment_size)

    def publish(self, staged: StagedUpload, now_ns: int) -> Landed:
        """Complete the uploads, then record the segment in its partition's metadata objects."""
        published = publish_upload(staged, self._target, self._options, now_ns)
        partition = ObjectPartition(self.client, self.layout, published.date)
        recorded = record_entry(partition, published.entry, venue=self._venue, now_ns=now_ns)
        return Landed(published.partition_url, recorded.entry, recorded.migrated)

    def record_missing(self, segment_ids: list[int], now_ns: int) -> list[int]:
        return record_missing_object(self.client, self.layout, segment_ids, now_ns)

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
