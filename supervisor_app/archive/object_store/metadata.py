"""Partition and venue metadata as objects: whole-object PUTs, conditional on what was read.

A PUT replaces an object atomically, so the local crash-completion rules hold as they are
(meta.json first, then the sidecar; see recording.py). No lock spans hosts, so every
write says what it expects to replace: If-None-Match: * for a new object, If-Match with
the ETag read for an existing one. Another archiver writing the same partition (two hosts
archiving one venue to one prefix) then fails the condition and we stop (exit 78) instead
of losing its update.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from supervisor_app.archive.layout import META_FILE_NAME
from supervisor_app.archive.meta import (
    LegacyMeta,
    PartitionSummary,
    SegmentEntry,
    partition_meta_from_json,
    sidecar_from_json,
    sidecar_name,
)
from supervisor_app.archive.metadata_files import MAX_META_BYTES, MAX_SIDECAR_BYTES, parse_json
from supervisor_app.archive.missing import missing_bytes, missing_from_json, with_missing
from supervisor_app.archive.object_store.client import S3Client
from supervisor_app.archive.object_store.layout import ObjectLayout
from supervisor_app.archive.object_store.wire import PreconditionFailed
from supervisor_app.archive.resets import QueueReset, resets_bytes, resets_from_json
from supervisor_app.errors import ArchiveConflictError


class _Absent:
    """Marks a name read and found missing (as opposed to never read)."""


_ABSENT = _Absent()


class ConditionalObjects:
    """Small JSON objects read whole and written back only over what was read."""

    def __init__(self, client: S3Client) -> None:
        self._client = client
        self._seen: dict[str, str | _Absent] = {}  # key -> ETag read, or absent

    def read(self, key: str, max_bytes: int) -> Any | None:
        """The parsed document at `key`, or None; its ETag is remembered for the write that follows."""
        found = self._client.get(key, max_bytes=max_bytes + 1)
        if found is None:
            self._seen[key] = _ABSENT
            return None
        data, etag = found
        self._seen[key] = etag
        return parse_json(data, self._client.url_of(key), max_bytes)

    def write(self, key: str, data: bytes) -> None:
        """Create or replace `key`, only if it is still as read (or absent, when never read)."""
        seen = self._seen.get(key, _ABSENT)
        try:
            if isinstance(seen, _Absent):
                etag = self._client.put(key, data, if_none_match=True)
            else:
                etag = self._client.put(key, data, if_match=seen)
        except PreconditionFailed:
            # A retried PUT whose first attempt landed fails its own condition: that is success.
            now = self._client.get(key, max_bytes=len(data) + 1)
            if now is None or now[0] != data:
                raise ArchiveConflictError(
                    f"{self._client.url_of(key)} changed while this archiver updated it: another archiver writes"
                    " the same venue under this prefix (two hosts, or two configs?); stop one of them"
                ) from None
            etag = now[1]
        self._seen[key] = etag


class ObjectPartition:
    """One partition's meta.json and sidecars in an object store (recording.PartitionStore)."""

    def __init__(self, client: S3Client, layout: ObjectLayout, date: dt.date) -> None:
        self._client = client
        self._prefix = layout.partition_prefix(date)
        self._objects = ConditionalObjects(client)

    def read_meta(self) -> PartitionSummary | LegacyMeta | None:
        key = self._prefix + META_FILE_NAME
        document = self._objects.read(key, MAX_META_BYTES)
        return None if document is None else partition_meta_from_json(document, self._client.url_of(key))

    def read_sidecar(self, segment_id: int) -> SegmentEntry | None:
        name = sidecar_name(segment_id)
        key = self._prefix + name
        document = self._objects.read(key, MAX_SIDECAR_BYTES)
        return None if document is None else sidecar_from_json(document, self._client.url_of(key), name)

    def write(self, files: Sequence[tuple[str, bytes]]) -> None:
        for name, data in files:
            self._objects.write(self._prefix + name, data)

    def where(self, name: str) -> str:
        return self._client.url_of(self._prefix + name)


def record_missing_object(
    client: S3Client, layout: ObjectLayout, segment_ids: list[int], now_ns: int, *, since_ns: int = 0
) -> list[int]:
    """Add `segment_ids` to the venue's record; return the ids that were not recorded before (see record_missing)."""
    key = layout.missing_segments_key
    objects = ConditionalObjects(client)
    document = objects.read(key, MAX_META_BYTES)
    known = [] if document is None else missing_from_json(document, client.url_of(key))
    merged, new_ids = with_missing(known, segment_ids, now_ns, since_ns=since_ns)
    if new_ids:
        objects.write(key, missing_bytes(layout.venue, merged))
    return new_ids


def load_resets_object(client: S3Client, layout: ObjectLayout) -> list[QueueReset]:
    """The venue's queue resets, oldest first (empty if none)."""
    key = layout.queue_resets_key
    document = ConditionalObjects(client).read(key, MAX_META_BYTES)
    return [] if document is None else resets_from_json(document, client.url_of(key))


def record_reset_object(client: S3Client, layout: ObjectLayout, reset: QueueReset) -> None:
    """Add `reset` to the venue's record (see resets.record_reset)."""
    key = layout.queue_resets_key
    objects = ConditionalObjects(client)
    document = objects.read(key, MAX_META_BYTES)
    known = [] if document is None else resets_from_json(document, client.url_of(key))
    objects.write(key, resets_bytes(layout.venue, [*known, reset]))
