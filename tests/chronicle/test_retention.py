"""The writer's retention rule: live readers keep segments; no readers/ keeps all; an empty one keeps none."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from supervisor_app.chronicle import (
    MAX_READER_LAG_BYTES,
    READER_TIMEOUT_NS,
    ReaderPosition,
    apply_retention,
    reader_lag_bytes,
    register_reader,
    segment_name,
    segments_to_delete,
)
from supervisor_app.chronicle.retention import RetentionRule

NOW = 2_000_000_000 * 10**9
SEGMENT = 4096
HEAD = 5


@pytest.fixture
def queue(tmp_path: Path) -> Path:
    """Segments 0..5 (5 is the writer's head), each with its .idx."""
    for segment_id in range(HEAD + 1):
        (tmp_path / segment_name(segment_id)).write_bytes(b"q")
        (tmp_path / segment_name(segment_id)).with_suffix(".idx").write_bytes(b"i")
    return tmp_path


def _deletable(queue: Path, *, segment_size: int = SEGMENT, head: int = HEAD) -> list[int]:
    return segments_to_delete(queue, head, 64, segment_size, NOW)


def _reader(queue: Path, name: str, segment_id: int, heartbeat_ns: int = NOW) -> None:
    register_reader(queue, name, ReaderPosition(segment_id=segment_id, heartbeat_ns=heartbeat_ns))


def test_no_readers_dir_keeps_everything(queue: Path) -> None:
    assert _deletable(queue) == []


def test_empty_readers_dir_gives_up_everything_below_the_head(queue: Path) -> None:
    (queue / "readers").mkdir()
    assert _deletable(queue) == [0, 1, 2, 3, 4]


def test_the_slowest_live_reader_decides(queue: Path) -> None:
    _reader(queue, "fast", 4)
    _reader(queue, "slow", 2)
    assert _deletable(queue) == [0, 1]


def test_a_reader_at_the_head_frees_everything_below_it(queue: Path) -> None:
    _reader(queue, "caught-up", HEAD)
    assert _deletable(queue) == [0, 1, 2, 3, 4]


def test_heartbeat_timeout_is_inclusive(queue: Path) -> None:
    _reader(queue, "just-in-time", 1, heartbeat_ns=NOW - READER_TIMEOUT_NS)
    assert _deletable(queue) == [0]


def test_a_stale_reader_is_ignored(queue: Path) -> None:
    _reader(queue, "stale", 1, heartbeat_ns=NOW - READER_TIMEOUT_NS - 1)
    _reader(queue, "live", 3)
    assert _deletable(queue) == [0, 1, 2]


def test_heartbeat_zero_counts_as_live(queue: Path) -> None:
    _reader(queue, "never-beat", 1, heartbeat_ns=0)
    assert _deletable(queue) == [0]


def test_lag_is_measured_in_full_segments_plus_offsets() -> None:
    reader = ReaderPosition(segment_id=2, offset=1024)
    assert reader_lag_bytes(reader, 5, 64, SEGMENT) == 3 * SEGMENT + 64 - 1024
    assert reader_lag_bytes(ReaderPosition(segment_id=6), 5, 64, SEGMENT) == 0  # ahead: no lag


def test_a_reader_too_far_behind_is_ignored(queue: Path) -> None:
    gib = 1024**3
    _reader(queue, "behind", 1)
    # head 5 at offset 64, reader 1 at 64: lag = 4 segments.
    assert _deletable(queue, segment_size=MAX_READER_LAG_BYTES // 4) == [0]
    assert _deletable(queue, segment_size=MAX_READER_LAG_BYTES // 4 + gib) == [0, 1, 2, 3, 4]


def test_a_corrupt_position_file_keeps_everything(queue: Path) -> None:
    _reader(queue, "live", 4)
    (queue / "readers" / "broken.meta").write_bytes(b"\x01" * 80)
    assert _deletable(queue) == []


def test_temporary_files_are_not_readers(queue: Path) -> None:
    _reader(queue, "live", 3)
    (queue / "readers" / "other.meta.tmp").write_bytes(b"")
    (queue / "readers" / ".x.meta").write_bytes(b"")
    assert _deletable(queue) == [0, 1, 2]


def test_apply_retention_deletes_segments_and_their_index(queue: Path) -> None:
    _reader(queue, "live", 2)
    assert apply_retention(queue, HEAD, 64, SEGMENT, NOW) == [0, 1]
    remaining = sorted(name for name in os.listdir(queue) if name != "readers")
    expected = sorted(name for i in range(2, HEAD + 1) for name in (segment_name(i), f"{i:09d}.idx"))
    assert remaining == expected


def test_a_scaled_down_rule_applies_its_own_limits(queue: Path) -> None:
    _reader(queue, "five-seconds-quiet", 1, heartbeat_ns=NOW - 5 * 10**9)
    _reader(queue, "live", 3)
    assert _deletable(queue) == [0]  # the writer's 30 s: still live
    rule = RetentionRule(reader_timeout_ns=3 * 10**9, max_reader_lag_bytes=MAX_READER_LAG_BYTES)
    assert segments_to_delete(queue, HEAD, 64, SEGMENT, NOW, rule) == [0, 1, 2]
