"""The chronicle writer's retention rule: which sealed segments no live reader still needs.

A reader is live while ``now - heartbeat <= 30 s`` (heartbeat 0 counts as live) and
while it lags the writer by at most 10 GiB. Lag is measured in bytes as if every
segment were full: ``(head_segment - reader_segment) * segment_size + head_offset -
reader_offset``, never below 0. A position file that cannot be decoded keeps every
segment (we cannot know where its reader is, and deleting cannot be undone; a
person must look at it). That is our choice: the format spec does not say.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Final

from supervisor_app.chronicle.reader_position import (
    POSITION_SUFFIX,
    READERS_DIR,
    ReaderPosition,
    decode_position,
)
from supervisor_app.chronicle.segment import list_segment_ids, segment_name
from supervisor_app.durable import fsync_dir
from supervisor_app.errors import CorruptPositionError

READER_TIMEOUT_NS: Final = 30 * 1_000_000_000
MAX_READER_LAG_BYTES: Final = 10 * 1024**3
INDEX_SUFFIX: Final = ".idx"


@dataclass(frozen=True)
class RetentionRule:
    """When a reader stops protecting segments: the writer's 30 s and 10 GiB (tests scale them down)."""

    reader_timeout_ns: int = READER_TIMEOUT_NS
    max_reader_lag_bytes: int = MAX_READER_LAG_BYTES


WRITER_RULE: Final = RetentionRule()


def reader_lag_bytes(position: ReaderPosition, head_segment_id: int, head_offset: int, segment_size: int) -> int:
    """How many bytes the reader is behind the writer's head, counting segments as full."""
    segments_behind = head_segment_id - position.segment_id
    return max(0, segments_behind * segment_size + head_offset - position.offset)


def is_live(
    position: ReaderPosition,
    *,
    head_segment_id: int,
    head_offset: int,
    segment_size: int,
    now_ns: int,
    rule: RetentionRule = WRITER_RULE,
) -> bool:
    """True while the reader heartbeats (or never did) and is not too far behind."""
    fresh = position.heartbeat_ns == 0 or now_ns - position.heartbeat_ns <= rule.reader_timeout_ns
    lag = reader_lag_bytes(position, head_segment_id, head_offset, segment_size)
    return fresh and lag <= rule.max_reader_lag_bytes


def _position_files(readers_dir: Path) -> list[Path]:
    # Temporary files (".x.tmp", "x.meta.tmp") are not readers yet.
    return [
        entry
        for entry in readers_dir.iterdir()
        if entry.name.endswith(POSITION_SUFFIX) and not entry.name.startswith(".")
    ]


def _kept_from(path: Path, live: Callable[[ReaderPosition], bool]) -> int | None:
    """The lowest segment this reader file keeps, or None when it keeps nothing."""
    try:
        position = decode_position(path.read_bytes(), source=str(path))
    except FileNotFoundError:
        return None  # unregistered while we were looking
    except CorruptPositionError:
        return 0
    return position.segment_id if live(position) else None


def segments_to_delete(
    queue_dir: Path,
    head_segment_id: int,
    head_offset: int,
    segment_size: int,
    now_ns: int,
    rule: RetentionRule = WRITER_RULE,
) -> list[int]:
    """Ids of the segments below the head that every live reader has passed, ascending."""
    readers_dir = queue_dir / READERS_DIR
    if not readers_dir.is_dir():
        return []  # no reader ever registered: keep everything
    live = partial(
        is_live,
        head_segment_id=head_segment_id,
        head_offset=head_offset,
        segment_size=segment_size,
        now_ns=now_ns,
        rule=rule,
    )
    kept = (_kept_from(path, live) for path in _position_files(readers_dir))
    # With readers/ present and no live reader in it, everything below the head
    # goes: the reference's behaviour, which the archiver must defend against.
    limit = min([head_segment_id, *(segment_id for segment_id in kept if segment_id is not None)])
    return [segment_id for segment_id in list_segment_ids(queue_dir) if segment_id < limit]


def apply_retention(
    queue_dir: Path,
    head_segment_id: int,
    head_offset: int,
    segment_size: int,
    now_ns: int,
    rule: RetentionRule = WRITER_RULE,
) -> list[int]:
    """Delete what `segments_to_delete` names (each ``.q`` and its ``.idx``); return the ids."""
    doomed = segments_to_delete(queue_dir, head_segment_id, head_offset, segment_size, now_ns, rule)
    for segment_id in doomed:
        segment_path = queue_dir / segment_name(segment_id)
        segment_path.unlink(missing_ok=True)
        segment_path.with_suffix(INDEX_SUFFIX).unlink(missing_ok=True)
    if doomed:
        fsync_dir(queue_dir)
    return doomed
