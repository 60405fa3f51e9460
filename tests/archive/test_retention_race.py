"""A live writer with retention rolls segments while the archiver starts, dies and restarts."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

from supervisor_app.chronicle.segment import list_segment_ids
from tests.archive.archive_checks import (
    archived_segment_ids,
    assert_final_files_are_whole,
)
from tests.archive.queue_builders import LiveWriter
from tests.commands import archiver_cmd


def start_archiver(queue: Path, root: Path) -> subprocess.Popen[bytes]:
    cmd = archiver_cmd(queue, root, "racy", "--poll-ms", "20")
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_no_segment_is_lost_to_retention_across_restarts(tmp_path: Path) -> None:
    queue, root = tmp_path / "queue", tmp_path / "archive"
    root.mkdir()
    writer = LiveWriter(queue)
    writer.start()
    rng = random.Random()
    try:
        # A backlog builds up before the archiver ever registers: the reference lost it here.
        deadline = time.monotonic() + 10
        while writer.highest_sealed < 5:
            assert time.monotonic() < deadline, "the writer sealed nothing"
            time.sleep(0.05)
        for _ in range(5):
            proc = start_archiver(queue, root)
            time.sleep(rng.uniform(0.3, 1.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            time.sleep(rng.uniform(0.0, 0.3))  # the writer keeps rolling while nobody archives
        proc = start_archiver(queue, root)
        time.sleep(0.5)
    finally:
        writer.stop.set()
        writer.join(timeout=10)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    subprocess.run(
        archiver_cmd(queue, root, "racy", "--once"),
        check=True,
        capture_output=True,
        timeout=60,
    )

    assert archived_segment_ids(root) == set(range(writer.highest_sealed + 1))
    assert not (root / "raw/v1/racy/missing-segments.json").exists()
    assert_final_files_are_whole(root, writer.sealed)
    # Retention really ran: archived segments were deleted from the queue behind us (how many
    # depends on how fast the archiver kept up on a loaded machine; that any were is the point).
    remaining = list_segment_ids(queue)
    assert remaining and remaining[0] > 0
