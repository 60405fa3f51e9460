"""`missing-segments.json`: segments retention deleted before we archived them, kept on record."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from supervisor_app.archive.meta import MAX_SEGMENT_ID
from supervisor_app.archive.metadata_files import MAX_META_BYTES, Fields, read_json
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
    if document is None:
        return []
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
    known = load_missing(path)
    known_ids = {m.segment_id for m in known if m.detected_at_ns >= since_ns}
    new_ids = [i for i in segment_ids if i not in known_ids]
    if new_ids:
        added = (MissingSegment(i, now_ns) for i in new_ids)
        merged = sorted([*known, *added], key=lambda m: (m.segment_id, m.detected_at_ns))
        document = {"venue": venue, "missing_segments": [asdict(m) for m in merged]}
        write_file_atomically(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
    return new_ids
