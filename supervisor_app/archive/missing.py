"""`missing-segments.json`: segments retention deleted before we archived them, kept on record."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from supervisor_app.archive.meta import MAX_SEGMENT_ID
from supervisor_app.archive.metadata_files import MAX_META_BYTES, Fields, Source, read_json
from supervisor_app.durable import write_file_atomically

REASON_DELETED = "deleted from the source queue before it was archived"


@dataclass(frozen=True)
class MissingSegment:
    segment_id: int
    detected_at_ns: int
    reason: str = REASON_DELETED


def load_missing(path: Path) -> list[MissingSegment]:
    """The venue's record of lost segments (empty if none); CorruptArchiveError names what is wrong."""
    document = read_json(path, MAX_META_BYTES)
    return [] if document is None else missing_from_json(document, path)


def missing_from_json(document: Any, path: Source) -> list[MissingSegment]:
    """The lost segments a `missing-segments.json` document read from `path` records."""
    fields = Fields(document, path)
    fields.text("venue", min_chars=1)
    return [
        MissingSegment(
            item.integer("segment_id", maximum=MAX_SEGMENT_ID),
            item.integer("detected_at_ns"),
            item.text("reason", max_chars=1000) if item.has("reason") else REASON_DELETED,
        )
        for item in fields.objects("missing_segments")
    ]


def record_missing(path: Path, venue: str, segment_ids: list[int], now_ns: int, *, since_ns: int = 0) -> list[int]:
    """Add `segment_ids` to the venue's record; return the ids that were not recorded before.

    Only entries detected from `since_ns` on count as recorded before: after a queue reset
    (pass its time), the restarted queue's segment 3 is another segment than the old one's.
    """
    merged, new_ids = with_missing(load_missing(path), segment_ids, now_ns, since_ns=since_ns)
    if new_ids:
        write_file_atomically(path, missing_bytes(venue, merged))
    return new_ids


def with_missing(
    known: list[MissingSegment], segment_ids: list[int], now_ns: int, *, since_ns: int = 0
) -> tuple[list[MissingSegment], list[int]]:
    """(the record with `segment_ids` added, the ids it did not hold yet): see record_missing."""
    known_ids = {m.segment_id for m in known if m.detected_at_ns >= since_ns}
    new_ids = [i for i in segment_ids if i not in known_ids]
    added = (MissingSegment(i, now_ns) for i in new_ids)
    return sorted([*known, *added], key=lambda m: (m.segment_id, m.detected_at_ns)), new_ids


def missing_bytes(venue: str, missing: list[MissingSegment]) -> bytes:
    """A `missing-segments.json` document."""
    document = {"venue": venue, "missing_segments": [asdict(m) for m in missing]}
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")
