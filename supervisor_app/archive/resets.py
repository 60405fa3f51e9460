"""`queue-resets.json`: each time the venue's queue restarted its segment ids below our reader position.

A queue recreated in place (the old `readers/` kept) starts again at segment 0 while our
reader still says, say, 10: nothing would be archived, and retention would delete 0..9
since our reader is past them. The archiver moves its position down to the oldest segment
present (see archiver.py) and records the reset here, at venue level, read strictly like
every metadata file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from supervisor_app.archive.meta import MAX_SEGMENT_ID
from supervisor_app.archive.metadata_files import MAX_META_BYTES, Fields, Source, read_json
from supervisor_app.durable import write_file_atomically


@dataclass(frozen=True)
class QueueReset:
    """The queue held segments `oldest_segment..newest_segment`, all below our position `previous_position`."""

    detected_at_ns: int
    previous_position: int
    oldest_segment: int
    newest_segment: int
    source: str  # the queue directory

    def covers(self, segment_id: int) -> bool:
        """True if `segment_id` is one of the ids the restarted queue reuses (archived once already)."""
        return self.oldest_segment <= segment_id < self.previous_position


def load_resets(path: Path) -> list[QueueReset]:
    """The venue's queue resets, oldest first (empty if none); CorruptArchiveError names what is wrong."""
    document = read_json(path, MAX_META_BYTES)
    return [] if document is None else resets_from_json(document, path)


def resets_from_json(document: Any, path: Source) -> list[QueueReset]:
    """The resets a `queue-resets.json` document read from `path` records, oldest first."""
    fields = Fields(document, path)
    fields.text("venue", min_chars=1)
    resets = []
    for item in fields.objects("queue_resets"):
        reset = QueueReset(
            detected_at_ns=item.integer("detected_at_ns"),
            previous_position=item.integer("previous_position", maximum=MAX_SEGMENT_ID + 1),
            oldest_segment=item.integer("oldest_segment", maximum=MAX_SEGMENT_ID),
            newest_segment=item.integer("newest_segment", maximum=MAX_SEGMENT_ID),
            source=item.text("source", max_chars=4096),
        )
        if not reset.oldest_segment <= reset.newest_segment < reset.previous_position:
            raise item.error("newest_segment", "oldest_segment <= newest_segment < previous_position does not hold")
        resets.append(reset)
    return resets


def record_reset(path: Path, venue: str, reset: QueueReset) -> None:
    """Add `reset` to the venue's record, durably.

    A kill between this and moving the position records the same reset again on the
    rerun: a duplicate is noise, while skipping what looks like one could hide a second
    reset from the same position.
    """
    write_file_atomically(path, resets_bytes(venue, [*load_resets(path), reset]))


def resets_bytes(venue: str, resets: list[QueueReset]) -> bytes:
    """A `queue-resets.json` document."""
    document = {"venue": venue, "queue_resets": [asdict(r) for r in resets]}
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")
