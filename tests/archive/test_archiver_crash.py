"""SIGKILL the archiver at random instants and rerun it: nothing is lost, nothing is partial."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from supervisor_app.chronicle.reader_position import load_position
from supervisor_app.chronicle.segment import read_segment_header
from tests.archive.archive_checks import (
    archived_segment_ids,
    assert_final_files_are_whole,
    assert_metadata_consistent,
)
from tests.archive.queue_builders import write_queue
from tests.commands import archiver_cmd

KILLS = 24
SEGMENTS = 64
SEGMENT_SIZE = 512 * 1024


def archiver(queue: Path, root: Path, compress: bool) -> list[str]:
    cmd = archiver_cmd(queue, root, "crashy", "--once")
    if compress:
        # Small blocks: many frames per segment, so kills land between frame writes too.
        cmd += ["--compress", "--block-size", "65536"]
    return cmd


def kill_while_working(cmd: list[str], delay_s: float) -> bool:
    """Start the archiver, SIGKILL it `delay_s` after it starts on the queue; True if the kill landed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if '"reader_registered"' in line:
            break
    time.sleep(delay_s)
    proc.send_signal(signal.SIGKILL)
    proc.stderr.read()
    proc.wait()
    return proc.returncode == -signal.SIGKILL


def committed(queue: Path) -> int:
    path = queue / "readers" / "raw-archiver.meta"
    return load_position(path).segment_id if path.exists() else 0


@pytest.mark.parametrize("compress", [False, True], ids=["copy", "compress"])
def test_random_sigkills_never_lose_or_expose_partial_data(compress: bool, tmp_path: Path) -> None:
    queue, root = tmp_path / "queue", tmp_path / "archive"
    root.mkdir()
    write_queue(queue, segments=SEGMENTS, segment_size=SEGMENT_SIZE)
    sources = {p.name: p.read_bytes() for p in queue.glob("*.q") if read_segment_header(p).sealed}
    assert len(sources) == SEGMENTS

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    kills_mid_work = 0
    window_s = 0.02  # adapted so that each run gets about one segment done before its kill
    for _ in range(KILLS):
        before = committed(queue)
        killed = kill_while_working(archiver(queue, root, compress), rng.uniform(0, window_s))
        position = committed(queue)
        if killed and position < SEGMENTS:
            kills_mid_work += 1
        window_s *= 0.7 if position - before > 1 else 1.3
        # The position never runs ahead of what the metadata says is durably archived.
        archived = archived_segment_ids(root, settled=False)
        assert set(range(position)) <= archived, f"seed={seed} position={position} archived={sorted(archived)}"
        assert_metadata_consistent(root, settled=False)
        assert_final_files_are_whole(root, sources)

    assert kills_mid_work >= 20, f"only {kills_mid_work} kills landed while work remained (seed={seed})"
    subprocess.run(archiver(queue, root, compress), check=True, capture_output=True, timeout=120)
    assert committed(queue) == SEGMENTS
    assert archived_segment_ids(root) == set(range(SEGMENTS))
    assert_metadata_consistent(root)
    assert_final_files_are_whole(root, sources)
    assert len(list(root.rglob("*.q.zst" if compress else "*.q"))) == SEGMENTS
    assert not list(root.rglob("*.tmp"))
