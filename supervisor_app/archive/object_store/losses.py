"""Acknowledging a venue's recorded losses in an object store, as `verify --acknowledge` does for a local archive."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from supervisor_app.archive.layout import META_FILE_NAME
from supervisor_app.archive.losses import (
    Acknowledgement,
    LossSelection,
    acknowledgements_bytes,
    acknowledgements_from_json,
    new_acknowledgement,
)
from supervisor_app.archive.meta import LegacyMeta, partition_meta_from_json, sidecar_from_json, sidecar_segment_id
from supervisor_app.archive.metadata_files import MAX_META_BYTES, MAX_SIDECAR_BYTES, parse_json
from supervisor_app.archive.missing import missing_from_json
from supervisor_app.archive.object_store.client import S3Client
from supervisor_app.archive.object_store.layout import ObjectLayout, partition_date_of
from supervisor_app.archive.object_store.metadata import ConditionalObjects
from supervisor_app.archive.resets import resets_from_json
from supervisor_app.errors import ChronicleFleetError

T = TypeVar("T")


def acknowledge_losses_object(
    client: S3Client, layout: ObjectLayout, selection: LossSelection, *, by: str, reason: str | None, now_ns: int
) -> Acknowledgement | None:
    """Record that `by` acknowledges the venue's unacknowledged losses `selection` names; None if there are none.

    No lock spans hosts: the record is written only over the version read (If-Match), so
    two operators acknowledging at once cannot lose one's record (the second fails, exit 1).
    """
    listing = client.list_objects(layout.venue_prefix)
    if not listing.objects and not listing.prefixes:
        raise ChronicleFleetError(f"{client.url_of(layout.venue_prefix)}: no archive for venue {layout.venue!r}")
    objects = ConditionalObjects(client)
    key = layout.acknowledged_key
    document = objects.read(key, MAX_META_BYTES)
    known = [] if document is None else acknowledgements_from_json(document, client.url_of(key))
    missing = _record(client, layout.missing_segments_key, missing_from_json)
    resets = _record(client, layout.queue_resets_key, resets_from_json)
    corrupt = corrupt_segments_object(client, layout, listing.prefixes)
    ack = new_acknowledgement(known, missing, corrupt, resets, selection, by=by, reason=reason, now_ns=now_ns)
    if ack is not None:
        objects.write(key, acknowledgements_bytes(layout.venue, [*known, ack]))
    return ack


def corrupt_segments_object(client: S3Client, layout: ObjectLayout, prefixes: Iterable[str]) -> list[tuple[str, int]]:
    """(partition date, segment id) of every segment archived corrupt, in the partitions `prefixes` (a listing of the
    venue's prefix) name; sidecars are read only where a summary counts one."""
    found: list[tuple[str, int]] = []
    for prefix in prefixes:
        date = partition_date_of(prefix, layout.venue_prefix)
        if date is None:
            continue
        partition = layout.partition_prefix(date)
        got = client.get(partition + META_FILE_NAME, max_bytes=MAX_META_BYTES + 1)
        if got is None:
            continue
        url = client.url_of(partition + META_FILE_NAME)
        meta = partition_meta_from_json(parse_json(got[0], url, MAX_META_BYTES), url)
        summary = meta.summary() if isinstance(meta, LegacyMeta) else meta
        if not summary.corrupt_segment_count:
            continue
        day = date.isoformat()
        for item in client.list_objects(partition).objects:
            name = item.key[len(partition) :]
            if sidecar_segment_id(name) is None:
                continue
            sidecar = client.get(item.key, max_bytes=MAX_SIDECAR_BYTES + 1)
            sidecar_url = client.url_of(item.key)
            if sidecar is not None:
                entry = sidecar_from_json(parse_json(sidecar[0], sidecar_url, MAX_SIDECAR_BYTES), sidecar_url, name)
                if entry.corrupt:
                    found.append((day, entry.segment_id))
        applied = summary.last_applied  # written before its sidecar, which a crash may have lost
        if applied is not None and applied.corrupt and (day, applied.segment_id) not in found:
            found.append((day, applied.segment_id))
    return found


def _record(client: S3Client, key: str, parse: Callable[[Any, str], list[T]]) -> list[T]:
    """A venue-level record (empty if absent); CorruptArchiveError names what is wrong."""
    got = client.get(key, max_bytes=MAX_META_BYTES + 1)
    if got is None:
        return []
    url = client.url_of(key)
    return parse(parse_json(got[0], url, MAX_META_BYTES), url)
