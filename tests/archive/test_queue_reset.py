"""A queue recreated in place restarts its ids below our reader: the archiver moves down, records it, archives it."""

from __future__ import annotations

import json
import random
import subprocess
import time
from pathlib import Path

import pytest

from supervisor_app.archive.resets import load_resets
from supervisor_app.chronicle.reader_position import load_position, position_path
from supervisor_app.chronicle.retention import segments_to_delete
from supervisor_app.chronicle.segment import list_segment_ids
from supervisor_app.chronicle.writer import QueueWriter
from supervisor_app.demo.payloads import market_payload
from tests.archive.archive_checks import archived_segment_ids, assert_final_files_are_whole
from tests.archive.queue_builders import START_NS
from tests.commands import archiver_cmd

SEGMENT_SIZE = 64 * 1024
DAY_NS = 86_400 * 10**9
VENUE = "okx"


def fill(queue: Path, *, sealed: int, start_ns: int, seed: int) -> dict[str, bytes]:
    """Write until `sealed` segments are sealed; return their bytes by file name."""
    rng = random.Random(seed)
    with QueueWriter(queue, segment_size=SEGMENT_SIZE, retention=False) as writer:
        seq = 0
        while writer.current_segment_id < sealed:
            writer.append(market_payload(rng, seq), timestamp_ns=start_ns + seq * 1_000_000)
            seq += 1
    return {p.name: p.read_bytes() for p in queue.glob("*.q") if int(p.name[:9]) < sealed}


def recreate(queue: Path) -> None:
    """What a feed handler's reinstall does: a fresh queue in the same directory, readers/ left as it was."""
    for path in queue.iterdir():
        if path.is_file():
            path.unlink()


def archive_once(queue: Path, root: Path) -> tuple[int, list[dict]]:
    result = subprocess.run(archiver_cmd(queue, root, VENUE, "--once"), capture_output=True, text=True, timeout=60)
    return result.returncode, [json.loads(line) for line in result.stderr.splitlines()]


@pytest.fixture
def archived_ten(tmp_path: Path) -> tuple[Path, Path, dict[str, bytes]]:
    queue, root = tmp_path / "queue", tmp_path / "archive"
    root.mkdir()
    first = fill(queue, sealed=10, start_ns=START_NS, seed=1)
    code, _ = archive_once(queue, root)
    assert code == 0 and load_position(position_path(queue, "raw-archiver")).segment_id == 10
    return queue, root, first


def test_a_queue_restarted_on_a_new_day_is_recorded_and_archived_not_left_to_retention(
    archived_ten: tuple[Path, Path, dict[str, bytes]],
) -> None:
    queue, root, first = archived_ten
    recreate(queue)
    second = fill(queue, sealed=6, start_ns=START_NS + DAY_NS, seed=2)
    before = time.time_ns()
    code, log = archive_once(queue, root)
    assert code == 0
    [reset] = [e for e in log if e["event"] == "queue_reset"]
    assert reset["level"] == "error"
    # 0-5 sealed, 6 the writer's current segment, 7 preallocated: all below 10.
    assert (reset["previous_position"], reset["oldest_segment"], reset["newest_segment"]) == (10, 0, 7)
    assert len([e for e in log if e["event"] == "segment_archived"]) == 6
    [recorded] = load_resets(root / "raw/v1" / VENUE / "queue-resets.json")
    assert (recorded.previous_position, recorded.oldest_segment, recorded.newest_segment) == (10, 0, 7)
    assert recorded.source == str(queue) and recorded.detected_at_ns >= before
    assert load_position(position_path(queue, "raw-archiver")).segment_id == 6
    day_two = root / "raw/v1" / VENUE / "2026-01-25/raw"
    assert sorted(p.name for p in day_two.glob("*.q")) == sorted(second)
    assert_final_files_are_whole(day_two, second)
    assert_final_files_are_whole(root / "raw/v1" / VENUE / "2026-01-24/raw", first)
    # And the next pass sees a normal queue: no second reset.
    code, log = archive_once(queue, root)
    assert code == 0 and not [e for e in log if e["event"] == "queue_reset"]
    assert len(load_resets(root / "raw/v1" / VENUE / "queue-resets.json")) == 1


def test_a_restarted_queue_colliding_with_the_archive_is_held_and_kept_from_retention(
    archived_ten: tuple[Path, Path, dict[str, bytes]],
) -> None:
    queue, root, _ = archived_ten
    recreate(queue)
    fill(queue, sealed=6, start_ns=START_NS + 3_600 * 10**9, seed=2)  # the same day: segment 0 collides
    code, log = archive_once(queue, root)
    assert code == 78
    [failed] = [e for e in log if e["event"] == "archiver_failed"]
    assert failed["error_type"] == "ArchiveConflictError"
    assert "000000000.q already exists with different bytes" in failed["error"]
    assert "segment ids restarted" in failed["error"] and "give the venue a new name" in failed["error"]
    assert load_position(position_path(queue, "raw-archiver")).segment_id == 0
    # Held at 0, the reader keeps the whole new queue from the writer's retention.
    assert segments_to_delete(queue, 6, 64, SEGMENT_SIZE, time.time_ns()) == []
    assert archived_segment_ids(root) == set(range(10))


def test_a_queue_whose_only_segment_is_the_one_at_the_position_is_no_reset(
    archived_ten: tuple[Path, Path, dict[str, bytes]],
) -> None:
    queue, root, _ = archived_ten
    for segment_id in range(10):  # retention took everything archived: the writer's segment 10 is all that is left
        (queue / f"{segment_id:09d}.q").unlink()
    (queue / "000000011.q").unlink()
    assert list_segment_ids(queue) == [10]
    code, log = archive_once(queue, root)
    assert code == 0 and not [e for e in log if e["event"] == "queue_reset"]
    assert not (root / "raw/v1" / VENUE / "queue-resets.json").exists()
    assert load_position(position_path(queue, "raw-archiver")).segment_id == 10


def test_a_segment_lost_again_after_a_reset_is_recorded_again(tmp_path: Path) -> None:
    queue, root = tmp_path / "queue", tmp_path / "archive"
    root.mkdir()
    fill(queue, sealed=5, start_ns=START_NS, seed=1)
    (queue / "000000002.q").unlink()  # lost before the first run: recorded missing
    assert archive_once(queue, root)[0] == 0
    recreate(queue)
    fill(queue, sealed=3, start_ns=START_NS + DAY_NS, seed=2)  # 0-2 sealed, 3 current, 4 preallocated: all below 5
    (queue / "000000002.q").unlink()  # the new queue's segment 2, lost too: another loss
    code, log = archive_once(queue, root)
    assert code == 0 and [e["segment_ids"] for e in log if e["event"] == "segments_missing"] == [[2]]
    recorded = json.loads((root / "raw/v1" / VENUE / "missing-segments.json").read_text())["missing_segments"]
    assert [m["segment_id"] for m in recorded] == [2, 2]
