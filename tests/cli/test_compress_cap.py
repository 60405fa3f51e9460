"""The host-wide cap on compression threads, observed: zstd-* threads counted across real archivers at once."""

from __future__ import annotations

import contextlib
import subprocess
import threading
from pathlib import Path

import pytest

from tests import commands
from tests.archive.queue_builders import write_queue
from tests.kernel_probe import thread_states

pytestmark = pytest.mark.slow
ARCHIVERS = 4
CAP = 2
SEGMENTS = 4


def _queues(tmp_path: Path) -> list[Path]:
    queues = []
    for number in range(ARCHIVERS):
        queue = tmp_path / f"queue-{number}"
        write_queue(queue, segments=SEGMENTS, segment_size=512 * 1024, seed=number)
        queues.append(queue)
    return queues


def _most_compression_threads_at_once(tmp_path: Path, queues: list[Path], *extra: str) -> int:
    """Run one archiver per queue at once (2 threads each wanted); the most zstd-* threads seen alive together."""
    flags = ["--once", "--compress", "--level", "19", "--block-size", "65536", "--compress-threads", "2", *extra]
    roots = [tmp_path / f"archive-{n}{'-capped' if extra else ''}" for n in range(ARCHIVERS)]
    for root in roots:
        root.mkdir()
    processes = [
        subprocess.Popen(commands.archiver_cmd(q, r, f"v{n}", *flags), stderr=subprocess.DEVNULL)
        for n, (q, r) in enumerate(zip(queues, roots, strict=True))
    ]
    most = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal most
        while not done.is_set():
            alive = 0
            for process in processes:
                with contextlib.suppress(FileNotFoundError):  # it has exited
                    alive += sum(1 for s in thread_states(process.pid) if s.name.startswith("zstd-"))
            most = max(most, alive)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        codes = [process.wait(120) for process in processes]
    finally:
        done.set()
        sampler.join()
        for process in processes:
            process.kill()
    assert codes == [0] * ARCHIVERS  # none waited forever: no deadlock, no starvation
    for root in roots:
        assert len(list(root.rglob("*.q.zst"))) == SEGMENTS
    return most


def test_archivers_sharing_slots_never_compress_on_more_threads_than_the_cap(tmp_path: Path) -> None:
    queues = _queues(tmp_path)
    # Without the cap, the same archivers do run more threads at once: the count would show a breach.
    assert _most_compression_threads_at_once(tmp_path, queues) > CAP
    for queue in queues:
        (queue / "readers" / "raw-archiver.meta").unlink()
    slots = tmp_path / "state" / "compress-slots"
    capped = _most_compression_threads_at_once(tmp_path, queues, "--compress-slots", f"{slots}:{CAP}")
    assert 1 <= capped <= CAP
