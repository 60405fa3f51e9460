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

KILLS = 24  # kills that land while work remains, however many attempts and archives that takes
MAX_ATTEMPTS = 3 * KILLS  # an attempt misses only when its archiver finishes the queue first
SEGMENTS = 64
SEGMENT_SIZE = 512 * 1024


def archiver(queue: Path, root: Path, reader: str, compress: bool) -> list[str]:
    cmd = archiver_cmd(queue, root, "crashy", "--once", "--reader-name", reader)
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


def committed(queue: Path, reader: str) -> int:
    path = queue / "readers" / f"{reader}.meta"
    return load_position(path).segment_id if path.exists() else 0


@pytest.mark.parametrize("compress", [False, True], ids=["copy", "compress"])
def test_random_sigkills_never_lose_or_expose_partial_data(compress: bool, tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    write_queue(queue, segments=SEGMENTS, segment_size=SEGMENT_SIZE)
    sources = {p.name: p.read_bytes() for p in queue.glob("*.q") if read_segment_header(p).sealed}
    assert len(sources) == SEGMENTS

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    # One archive (root and reader) at a time. On a loaded machine a single late kill can let an
    # archiver finish the queue; the kills then go on against a fresh archive of the same queue.
    archives: list[tuple[Path, str]] = []
    kills_mid_work = attempts = 0
    window_s = 0.02  # adapted so that each run gets about one segment done before its kill
    while kills_mid_work < KILLS and attempts < MAX_ATTEMPTS:
        if not archives or committed(queue, archives[-1][1]) == SEGMENTS:
            archives.append((tmp_path / f"archive-{len(archives)}", f"raw-archiver-{len(archives)}"))
            archives[-1][0].mkdir()
        root, reader = archives[-1]
        attempts += 1
        before = committed(queue, reader)
        killed = kill_while_working(archiver(queue, root, reader, compress), rng.uniform(0, window_s))
        position = committed(queue, reader)
        if killed and position < SEGMENTS:
            kills_mid_work += 1
        window_s *= 0.7 if position - before > 1 else 1.3
        # The position never runs ahead of what the metadata says is durably archived.
        archived = archived_segment_ids(root, settled=False)
        assert set(range(position)) <= archived, f"seed={seed} position={position} archived={sorted(archived)}"
        assert_metadata_consistent(root, settled=False)
        assert_final_files_are_whole(root, sources)

    assert kills_mid_work == KILLS, (
        f"only {kills_mid_work} of {attempts} kills landed while work remained ({len(archives)} archives, seed={seed})"
    )
    for root, reader in archives:
        subprocess.run(archiver(queue, root, reader, compress), check=True, capture_output=True, timeout=120)
        assert committed(queue, reader) == SEGMENTS
        assert archived_segment_ids(root) == set(range(SEGMENTS))
        assert_metadata_consistent(root)
        assert_final_files_are_whole(root, sources)
        assert len(list(root.rglob("*.q.zst" if compress else "*.q"))) == SEGMENTS
        assert not list(root.rglob("*.tmp"))
