"""verify's look for segment ids archived twice under one venue, in an object store (see archive/reused_ids.py)."""

from __future__ import annotations

import datetime as dt

from supervisor_app.archive.meta import (
    PartitionSummary,
    SegmentEntry,
    sidecar_from_json,
    sidecar_name,
    sidecar_segment_id,
)
from supervisor_app.archive.metadata_files import MAX_META_BYTES, MAX_SIDECAR_BYTES, parse_json
from supervisor_app.archive.object_store.client import S3Client
from supervisor_app.archive.object_store.layout import ObjectLayout
from supervisor_app.archive.resets import QueueReset, resets_from_json
from supervisor_app.archive.reused_ids import Span, reused_ids
from supervisor_app.archive.verify_report import Finding
from supervisor_app.errors import CorruptArchiveError


def reused_id_warnings(
    client: S3Client, layout: ObjectLayout, partitions: list[tuple[dt.date, PartitionSummary | None]]
) -> list[Finding]:
    """Segment ids archived in two of these partitions with other bytes (see reused_ids)."""
    prefixes = {d.isoformat(): layout.partition_prefix(d) for d, _ in partitions}
    spans = [
        Span(d.isoformat(), s.first_segment_id, s.last_segment_id)
        for d, s in partitions
        if s is not None and s.first_segment_id is not None and s.last_segment_id is not None
    ]
    found = reused_ids(
        spans,
        ids_of=lambda date: _sidecar_ids(client, prefixes[date]),
        entry_of=lambda date, segment_id: _sidecar(client, prefixes[date], sidecar_name(segment_id)),
        resets=_resets(client, layout),
    )
    return [Finding(client.url_of(prefixes[r.later.date] + sidecar_name(r.segment_id)), r.message()) for r in found]


def _sidecar_ids(client: S3Client, prefix: str) -> list[int]:
    names = (o.key[len(prefix) :] for o in client.list_objects(prefix).objects)
    return [i for name in names if (i := sidecar_segment_id(name)) is not None]


def _sidecar(client: S3Client, prefix: str, name: str) -> SegmentEntry | None:
    url = client.url_of(prefix + name)
    found = client.get(prefix + name, max_bytes=MAX_SIDECAR_BYTES + 1)
    try:
        return None if found is None else sidecar_from_json(parse_json(found[0], url, MAX_SIDECAR_BYTES), url, name)
    except CorruptArchiveError:
        return None  # reported when its partition is verified


def _resets(client: S3Client, layout: ObjectLayout) -> list[QueueReset]:
    """The venue's queue resets; none if its record is damaged (reported with the venue's records)."""
    found = client.get(layout.queue_resets_key, max_bytes=MAX_META_BYTES + 1)
    url = client.url_of(layout.queue_resets_key)
    try:
        return [] if found is None else resets_from_json(parse_json(found[0], url, MAX_META_BYTES), url)
    except CorruptArchiveError:
        return []
