"""Status figures of one venue: lag, heartbeat age, last archived segment, risks."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import structlog

from supervisor_app.archive.archiver import ArchiverConfig, RawArchiver
from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.progress import archive_progress
from supervisor_app.archive.reader_lease import refresh_reader
from supervisor_app.chronicle.reader_position import (
    ReaderPosition,
    load_position,
    position_path,
    store_position,
)
from supervisor_app.chronicle.segment import encode_segment_header
from supervisor_app.chronicle.writer import QueueWriter
from tests.archive.queue_builders import write_queue

SEGMENT = 64 * 1024
NOW = time.time_ns()


def archive_once(queue: Path, root: Path) -> None:
    config = ArchiverConfig(source=queue, archive_root=root, venue="v")
    RawArchiver(config, log=structlog.get_logger(), stop=threading.Event()).run_once()


def test_lag_counts_what_was_sealed_after_the_last_pass(tmp_path: Path) -> None:
    queue, root = tmp_path / "queue", tmp_path / "archive"
    root.mkdir()
    write_queue(queue, segments=3, segment_size=SEGMENT)
    archive_once(queue, root)
    with QueueWriter(queue, segment_size=SEGMENT, retention=False) as writer:
        for _ in range(4):
            writer.roll()  # seals the (PAD-repaired) segment 3 and three empty ones
        writer.append(b"x" * 100)  # one record in the new head
    progress = archive_progress(queue, "raw-archiver", ArchiveLayout(root, "v"), time.time_ns())
    assert progress.position_segment == 3 and progress.head_segment == 8
    assert progress.segments_behind == 5
    assert progress.bytes_behind == 5 * SEGMENT + (64 + 192) - 64  # the head holds one 192-byte record
    assert progress.last_archived_segment == 2 and progress.last_archived_at_ns is not None
    assert progress.heartbeat_age_s is not None and progress.heartbeat_age_s < 60
    assert progress.risks == ()


def test_a_stale_heartbeat_is_a_risk(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    write_queue(queue, segments=1, segment_size=SEGMENT)
    refresh_reader(queue, "raw-archiver", NOW - 25 * 10**9)
    progress = archive_progress(queue, "raw-archiver", ArchiveLayout(tmp_path, "v"), NOW)
    assert progress.heartbeat_age_s is not None and round(progress.heartbeat_age_s) == 25
    [risk] = progress.risks
    assert "heartbeat is 25 s old" in risk and "after 30 s" in risk


def test_a_lag_near_ten_gib_is_a_risk(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    write_queue(queue, segments=1, segment_size=1024 * 1024)
    for later in queue.glob("00000000[1-9].q"):
        later.unlink()
    # The writer's head, 9000 segments of 1 MiB ahead of a reader still at segment 0.
    (queue / "000009000.q").write_bytes(encode_segment_header(9000) + bytes(1024 * 1024 - 64))
    refresh_reader(queue, "raw-archiver", NOW)
    progress = archive_progress(queue, "raw-archiver", ArchiveLayout(tmp_path, "v"), NOW)
    [risk] = progress.risks
    assert "lags the writer by 8.8 GiB" in risk and "past 10 GiB" in risk


def test_no_reader_yet(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    write_queue(queue, segments=2, segment_size=SEGMENT)
    progress = archive_progress(queue, "raw-archiver", ArchiveLayout(tmp_path, "v"), NOW)
    assert progress.position_segment is None and progress.last_archived_segment is None


def test_refresh_reader_registers_at_the_oldest_segment_and_never_moves(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    write_queue(queue, segments=4, segment_size=SEGMENT)
    (queue / "000000000.q").unlink()
    first = refresh_reader(queue, "raw-archiver", NOW)
    assert (first.segment_id, first.offset, first.heartbeat_ns) == (1, 64, NOW)
    path = position_path(queue, "raw-archiver")
    store_position(path, ReaderPosition(3, 64, NOW, load_position(path).generation))
    again = refresh_reader(queue, "raw-archiver", NOW + 5)
    assert (again.segment_id, again.heartbeat_ns) == (3, NOW + 5)
    assert again.generation > first.generation
