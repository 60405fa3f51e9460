"""`missing-segments.json`: segments retention deleted before we archived them, kept on record."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from supervisor_app.durable import write_file_atomically
from supervisor_app.errors import CorruptArchiveError

REASON_DELETED = "deleted from the source queue before it was archived"


@dataclass(frozen=True)
class MissingSegment:
    segment_id: int
    detected_at_ns: int
    reason: str = REASON_DELETED


def load_missing(path: Path) -> list[MissingSegment]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [MissingSegment(**item) for item in data["missing_segments"]]
    except FileNotFoundError:
        return []
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptArchiveError(f"{path}: unreadable missing-segments record: {exc}") from exc


def record_missing(path: Path, venue: str, segment_ids: list[int], now_ns: int) -> list[int]:
    """Add `segment_ids` to the venue's record; return the ids that were not recorded before."""
    known = load_missing(path)
    known_ids = {m.segment_id for m in known}
    new_ids = [i for i in segment_ids if i not in known_ids]
    if new_ids:
        merged = sorted([*known, *(MissingSegment(i, now_ns) for i in new_ids)], key=lambda m: m.segment_id)
        document = {"venue": venue, "missing_segments": [asdict(m) for m in merged]}
        write_file_atomically(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"))
    return new_ids
