"""An archiver idle after work re-execs itself: same pid, locks held throughout, memory back, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from supervisor_app.archive.queue_lock import queue_lock_holder
from supervisor_app.chronicle.reader_position import load_position, position_path
from supervisor_app.chronicle.segment import list_segment_ids, read_segment_header, segment_name
from supervisor_app.chronicle.writer import QueueWriter
from tests import commands
from tests.cli.fleet_runner import json_lines, wait_until

SEGMENT = 64 * 1024
T0 = 1_769_212_800_000_000_000


def seal(queue: Path, count: int) -> None:
    with QueueWriter(queue, segment_size=SEGMENT, retention=False) as writer:
        last = writer.current_segment_id + count
        while writer.current_segment_id < last:
            writer.append(b"r" * 900, timestamp_ns=T0)


def sealed_count(queue: Path) -> int:
    return sum(read_segment_header(queue / segment_name(i)).sealed for i in list_segment_ids(queue))


def sidecars(root: Path) -> int:
    return len(list(root.glob("raw/v1/v/*/raw/*.meta.json")))


def zstd_mapped(pid: int) -> bool:
    return "zstandard/backend_c" in Path(f"/proc/{pid}/maps").read_text()


def test_an_idle_archiver_refreshes_in_place_and_goes_on_archiving(tmp_path: Path) -> None:
    queue, root, log = tmp_path / "queue", tmp_path / "archive", tmp_path / "archiver.log"
    seal(queue, 3)
    cmd = commands.archiver_cmd(queue, root, "v", "--compress", "--poll-ms", "100", "--refresh-when-idle", "3")
    with log.open("w") as stderr:
        archiver = subprocess.Popen([*cmd, "--log-format", "json"], stderr=stderr)
    try:
        wait_until(lambda: sidecars(root) == 3, timeout=30, what="3 segments archived")
        assert zstd_mapped(archiver.pid)  # what the work loaded
        refreshed = lambda: [e for e in json_lines(log) if e["event"] == "archiver_started" and e["refreshed"]]
        wait_until(refreshed, timeout=30, what="the refresh")
        assert not zstd_mapped(archiver.pid)  # given back
        assert {e["pid"] for e in json_lines(log)} == {archiver.pid}
        holder = queue_lock_holder(queue, "raw-archiver")
        assert holder is not None and holder.pid == archiver.pid
        second = subprocess.run(
            commands.archiver_cmd(queue, tmp_path / "other-root", "v", "--once"), capture_output=True, text=True
        )
        assert second.returncode == 75 and f"pid {archiver.pid}" in second.stderr
        seal(queue, 2)
        sealed = sealed_count(queue)
        assert sealed > 3
        wait_until(lambda: sidecars(root) == sealed, timeout=30, what="the new segments archived after the refresh")
        wait_until(
            lambda: load_position(position_path(queue, "raw-archiver")).segment_id == sealed, timeout=30, what="commit"
        )
        archiver.send_signal(signal.SIGTERM)
        assert archiver.wait(30) == 0
    finally:
        archiver.kill()
        archiver.wait()
    events = [e["event"] for e in json_lines(log)]
    assert events.count("archiver_refreshing") >= 1 and events[-1] == "archiver_stopped"
    assert "archiver_refresh_failed" not in events


@pytest.mark.parametrize("attempt", range(3))
def test_a_stop_signal_sent_as_it_refreshes_still_stops_it_cleanly(tmp_path: Path, attempt: int) -> None:
    """SIGTERM the moment it says it refreshes: the signal lands before, during or after the exec, never lost."""
    queue, root = tmp_path / "queue", tmp_path / "archive"
    seal(queue, 1)
    cmd = commands.archiver_cmd(queue, root, "v", "--poll-ms", "50", "--refresh-when-idle", "0.2")
    archiver = subprocess.Popen([*cmd, "--log-format", "json"], stderr=subprocess.PIPE, text=True)
    assert archiver.stderr is not None
    try:
        lines = []
        while not lines or json.loads(lines[-1])["event"] != "archiver_refreshing":
            lines.append(archiver.stderr.readline())
            assert lines[-1], "".join(lines)
        os.kill(archiver.pid, signal.SIGTERM)
        lines += archiver.stderr.readlines()
        assert archiver.wait(30) == 0, "".join(lines)
    finally:
        archiver.kill()
        archiver.wait()
    assert json.loads(lines[-1])["event"] == "archiver_stopped"
    assert load_position(position_path(queue, "raw-archiver")).segment_id == 1 and sidecars(root) == 1


def test_without_a_refresh_setting_it_never_re_execs(tmp_path: Path) -> None:
    queue, root = tmp_path / "queue", tmp_path / "archive"
    seal(queue, 1)
    cmd = commands.archiver_cmd(queue, root, "v", "--poll-ms", "50", "--refresh-when-idle", "0", "--log-format", "json")
    archiver = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: sidecars(root) == 1, timeout=30, what="the segment archived")
        time.sleep(1.0)  # 5x what the other tests refresh after
        archiver.send_signal(signal.SIGTERM)
        _, stderr = archiver.communicate(timeout=30)
    finally:
        archiver.kill()
    events = [json.loads(line)["event"] for line in stderr.splitlines()]
    assert archiver.returncode == 0 and "archiver_refreshing" not in events and events.count("archiver_started") == 1


# The archiver, with SIGTERM sent to itself at a chosen point of the refresh (as a signal landing then would).
SIGNAL_DURING_REFRESH = """
import os, signal, sys
from supervisor_app.archive import refresh
from supervisor_app.cli.archiver import main

def kill_self_then(original):
    def call(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return original(*args, **kwargs)
    return call

refresh.{point} = kill_self_then(refresh.{point})
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("point", ["_threads_after_joins", "resident_kib"])
def test_a_stop_signal_caught_just_before_the_exec_is_not_lost_to_it(tmp_path: Path, point: str) -> None:
    """The old image's handler ran (its stop event set) but it went on to exec: the new image never heard it."""
    queue, root = tmp_path / "queue", tmp_path / "archive"
    seal(queue, 1)
    args = commands.archiver_cmd(queue, root, "v", "--poll-ms", "50", "--refresh-when-idle", "0.2")[3:]
    code = SIGNAL_DURING_REFRESH.format(point=point)
    archiver = subprocess.Popen(
        [sys.executable, "-c", code, *args, "--log-format", "json"], stderr=subprocess.PIPE, text=True
    )
    try:
        _, stderr = archiver.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        archiver.kill()
        _, stderr = archiver.communicate()
    events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
    assert archiver.returncode == 0, events
    assert events.count("archiver_started") == 1 and events[-1] == "archiver_stopped"


def test_lock_files_replaced_while_idle_leave_no_descriptor_behind_after_a_refresh(tmp_path: Path) -> None:
    """Its old lock files deleted (an operator's cleanup, a recreated queue): the new image locks the new ones only."""
    queue, root, log = tmp_path / "queue", tmp_path / "archive", tmp_path / "archiver.log"
    seal(queue, 1)
    cmd = commands.archiver_cmd(queue, root, "v", "--poll-ms", "50", "--refresh-when-idle", "2", "--log-format", "json")
    with log.open("w") as stderr:
        archiver = subprocess.Popen(cmd, stderr=stderr)
    try:
        wait_until(lambda: sidecars(root) == 1, timeout=30, what="the segment archived")
        (root / "raw/v1/v/.archiver.lock").unlink()
        (queue / "readers/raw-archiver.lock").unlink()
        refreshed = lambda: [e for e in json_lines(log) if e["event"] == "archiver_started" and e["refreshed"]]
        wait_until(refreshed, timeout=30, what="the refresh")
        fd_dir = Path(f"/proc/{archiver.pid}/fd")
        stale = lambda: [
            t for t in (os.readlink(fd_dir / fd) for fd in os.listdir(fd_dir)) if t.endswith(".lock (deleted)")
        ]
        wait_until(lambda: not stale(), timeout=10, what="the old lock files' descriptors closed (after a first pass)")
        assert queue_lock_holder(queue, "raw-archiver") is not None
        archiver.send_signal(signal.SIGTERM)
        assert archiver.wait(30) == 0
    finally:
        archiver.kill()
        archiver.wait()
