"""`chronicle-raw-archiver`'s share of the host, read back from the kernel for every thread of a real archiver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests import commands
from tests.archive.queue_builders import write_queue
from tests.cli.fleet_runner import wait_until
from tests.kernel_probe import ThreadState, thread_states

VENUE = "okx"
LAST_CORE = max(os.sched_getaffinity(0))


@pytest.fixture
def backlog(tmp_path: Path) -> Path:
    """Sealed segments enough to keep the compression threads at work for a while at level 19."""
    queue = tmp_path / "queue"
    write_queue(queue, segments=6, segment_size=512 * 1024)
    return queue


def _log(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]


def _threads_seen_while_compressing(cmd: list[str], log: Path) -> tuple[dict[int, ThreadState], list[dict[str, Any]]]:
    """Run the archiver until it has compressed with named threads; every thread seen on the way, and its log.

    Sampling starts once it logs archiver_started: the settings are applied then, before any thread starts.
    """
    seen: dict[int, ThreadState] = {}
    with log.open("w") as err:
        process = subprocess.Popen(cmd, stderr=err)
    try:
        wait_until(lambda: log.read_text().count("\n") >= 1, timeout=30, what="archiver_started")

        def sample() -> bool:
            for state in thread_states(process.pid):
                seen.setdefault(state.tid, state)
            return any(s.name.startswith("zstd-") for s in seen.values()) and len(seen) >= 4

        wait_until(sample, timeout=30, what="compression threads")
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()
        process.wait(10)
    return seen, _log(log)


def test_every_thread_runs_at_the_nice_value_io_priority_and_cores_given(
    backlog: Path, root: Path, tmp_path: Path
) -> None:
    flags = ["--nice", "13", "--io-class", "best-effort", "--io-level", "6", "--cpu-affinity", str(LAST_CORE)]
    cmd = commands.archiver_cmd(backlog, root, VENUE, "--compress", "--level", "19", "--poll-ms", "50", *flags)
    seen, log = _threads_seen_while_compressing(cmd, tmp_path / "archiver.log")
    assert len(seen) >= 4  # main, reader heartbeat, publisher, compression
    assert {s.name for s in seen.values() if s.name.startswith("zstd-")} == {"zstd-0"}  # one core: one thread
    for state in seen.values():
        assert (state.nice, state.io_class, state.io_level, state.cpus) == (13, "best-effort", 6, {LAST_CORE}), state
    started = next(e for e in log if e["event"] == "archiver_started")
    assert started["resources"] == {
        "nice": 13,
        "io_class": "best-effort",
        "io_level": 6,
        "cpu_affinity": str(LAST_CORE),
        "compress_threads": 1,
        "compress_slots": None,
    }


def test_the_idle_io_class_and_a_thread_count_of_ones_own(backlog: Path, root: Path, tmp_path: Path) -> None:
    flags = ["--nice", "19", "--io-class", "idle", "--compress-threads", "3"]
    cmd = commands.archiver_cmd(backlog, root, VENUE, "--compress", "--level", "19", "--poll-ms", "50", *flags)
    seen, log = _threads_seen_while_compressing(cmd, tmp_path / "archiver.log")
    assert {s.name for s in seen.values() if s.name.startswith("zstd-")} <= {"zstd-0", "zstd-1", "zstd-2"}
    everyone = frozenset(os.sched_getaffinity(0))
    for state in seen.values():
        assert (state.nice, state.io_class, state.cpus) == (19, "idle", everyone), state
    started = next(e for e in log if e["event"] == "archiver_started")["resources"]
    assert (started["io_class"], started["compress_threads"]) == ("idle", 3)


def test_without_flags_the_archiver_keeps_what_it_inherited(queue: Path, root: Path) -> None:
    result = subprocess.run(
        commands.archiver_cmd(queue, root, VENUE, "--once"),
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, 7),
    )
    assert result.returncode == 0, result.stderr
    started = json.loads(result.stderr.splitlines()[0])
    assert started["event"] == "archiver_started"
    assert started["resources"]["nice"] == 7
    assert "compress_threads" not in started["resources"]  # copy mode compresses nothing


def test_a_nice_value_below_the_inherited_one_without_the_privilege_is_a_warning(queue: Path, root: Path) -> None:
    # setpriv drops CAP_SYS_NICE from what the archiver execs with, even as root.
    cmd = ["setpriv", "--bounding-set=-sys_nice", *commands.archiver_cmd(queue, root, VENUE, "--once", "--nice", "5")]
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, preexec_fn=lambda: os.setpriority(os.PRIO_PROCESS, 0, 15)
    )
    assert result.returncode == 0, result.stderr
    events = {e["event"]: e for e in map(json.loads, result.stderr.splitlines())}
    assert events["archiver_started"]["resources"]["nice"] == 15
    warning = events["resources_not_applied"]
    assert warning["level"] == "warning" and "nice 5 is below the inherited 15" in warning["reason"]


def test_cores_the_host_lacks_are_a_permanent_error_before_anything_is_archived(queue: Path, root: Path) -> None:
    result = subprocess.run(
        commands.archiver_cmd(queue, root, VENUE, "--once", "--cpu-affinity", "4000-4001"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 78
    failed = json.loads(result.stderr.splitlines()[-1])
    assert failed["event"] == "archiver_failed" and "cannot run on cores 4000-4001" in failed["error"]
    assert not list(root.rglob("*.q"))


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--io-level", "3"], "--io-level goes with --io-class best-effort"),
        (["--io-class", "idle", "--io-level", "3"], "--io-level goes with --io-class best-effort"),
        (["--cpu-affinity", "3-1"], "the range '3-1' is empty"),
        (["--cpu-affinity", "x"], "'x' is not a core number"),
        (["--nice", "20"], "20 is outside -20..19"),
        (["--compress-slots", "/tmp/x"], "is not DIR:N"),
        (["--compress-slots", "/tmp/x:0"], "is not DIR:N"),
        (["--compress-threads", "0"], "0 is outside 1..64"),
    ],
)
def test_bad_resource_flags_are_usage_errors(queue: Path, root: Path, flags: list[str], words: str) -> None:
    started = time.monotonic()
    result = subprocess.run(commands.archiver_cmd(queue, root, VENUE, "--once", *flags), capture_output=True, text=True)
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert time.monotonic() - started < 30
