"""An archiver that cannot lose segments quietly: its heartbeat proves its work moves, and it is alone on its reader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from supervisor_app.archive.queue_lock import LockHolder, queue_lock_holder, queue_lock_path
from supervisor_app.archive.reader_lease import HEARTBEAT_INTERVAL_S
from supervisor_app.chronicle.reader_position import load_position, position_path
from supervisor_app.chronicle.retention import segments_to_delete
from supervisor_app.chronicle.writer import QueueWriter
from tests.archive.archive_checks import archived_segment_ids
from tests.archive.queue_builders import write_queue
from tests.cli.fleet_runner import json_lines, wait_until
from tests.commands import archiver_cmd
from tests.hang import hang_environment, taken

VENUE = "binance-perp"
SEGMENT_SIZE = 64 * 1024


@pytest.fixture
def queue(tmp_path: Path) -> Path:
    path = tmp_path / "queue"
    write_queue(path, segments=2, segment_size=SEGMENT_SIZE)
    return path


def start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as stderr:
        return subprocess.Popen(cmd, stderr=stderr, env=None if env is None else {**os.environ, **env})


def events(log: Path, event: str) -> list[dict]:
    return [e for e in json_lines(log) if e["event"] == event]


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=20)


def seal_more(queue: Path, count: int) -> int:
    """Seal `count` more segments; return the id of the writer's new current segment."""
    with QueueWriter(queue, segment_size=SEGMENT_SIZE, retention=False) as writer:
        for _ in range(count):
            writer.append(b"x" * 100)
            writer.roll()
        return writer.current_segment_id


def test_a_loop_stuck_in_a_hung_write_stops_the_heartbeat_and_resumes_it_when_the_write_returns(
    queue: Path, tmp_path: Path
) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    marker = tmp_path / "hang"
    log = tmp_path / "archiver.log"
    env = hang_environment(marker, root, liveness_timeout_s=1)
    proc = start(archiver_cmd(queue, root, VENUE, "--poll-ms", "50"), log, env)
    reader = position_path(queue, "raw-archiver")
    try:
        wait_until(lambda: reader.exists() and load_position(reader).segment_id == 2, what="segments 0-1 archived")
        marker.touch()
        head = seal_more(queue, 3)  # the publish of segment 2 hangs in its first fsync
        wait_until(lambda: taken(marker).exists(), what="the write to hang")
        [stalled] = wait_until(lambda: events(log, "main_loop_stalled"), what="main_loop_stalled")
        assert stalled["level"] == "error" and stalled["liveness_timeout_s"] == 1
        frozen = load_position(reader)
        time.sleep(3 * HEARTBEAT_INTERVAL_S)  # three beats' worth: none may come while the work is stuck
        assert load_position(reader) == frozen and proc.poll() is None

        taken(marker).unlink()  # the server answers: the write returns, the work goes on, the beats resume
        wait_until(lambda: load_position(reader).segment_id == head, what="the rest archived")
        wait_until(lambda: events(log, "main_loop_resumed"), what="main_loop_resumed")
        wait_until(lambda: load_position(reader).heartbeat_ns > frozen.heartbeat_ns + 1e9, what="beats again")
    finally:
        assert stop(proc) == 0
    assert archived_segment_ids(root) == set(range(head))


def test_a_manual_run_beside_a_running_archiver_exits_at_once_naming_it_and_moves_nothing(
    queue: Path, tmp_path: Path
) -> None:
    fleet_root, scratch = tmp_path / "archive", tmp_path / "scratch"
    fleet_root.mkdir()
    scratch.mkdir()
    log = tmp_path / "archiver.log"
    running = start(archiver_cmd(queue, fleet_root, VENUE, "--poll-ms", "50"), log)
    reader = position_path(queue, "raw-archiver")
    try:
        wait_until(lambda: reader.exists() and load_position(reader).segment_id == 2, what="segments 0-1 archived")
        assert queue_lock_holder(queue, "raw-archiver") == LockHolder(running.pid, VENUE, str(fleet_root))
        lock_text = json.loads(queue_lock_path(queue, "raw-archiver").read_text())
        assert lock_text["pid"] == running.pid
        # The fleet's archiver idles; an operator tries a manual run with the default reader name.
        manual = subprocess.run(
            archiver_cmd(queue, scratch, VENUE, "--once"), capture_output=True, text=True, timeout=60
        )
        assert manual.returncode == 75, manual.stderr
        [failed] = [e for e in map(json.loads, manual.stderr.splitlines()) if e["event"] == "archiver_failed"]
        assert failed["error_type"] == "ArchiveBusyError"
        assert f"pid {running.pid}, archiving venue {VENUE} into {fleet_root}" in failed["error"]
        assert "--reader-name" in failed["error"]
        assert not list(scratch.rglob("*.q")) and load_position(reader).segment_id == 2

        head = seal_more(queue, 2)
        wait_until(lambda: load_position(reader).segment_id == head, what="the fleet's archiver to go on")
        # With a reader of its own, the manual run is harmless: it holds back retention for itself only.
        own = subprocess.run(
            archiver_cmd(queue, scratch, VENUE, "--once", "--reader-name", "manual"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert own.returncode == 0, own.stderr
        assert archived_segment_ids(scratch) == set(range(head))
    finally:
        assert stop(running) == 0
    assert queue_lock_holder(queue, "raw-archiver") is None
    assert archived_segment_ids(fleet_root) == set(range(head))
    # The lock file is no reader: retention goes by the two position files alone.
    assert segments_to_delete(queue, head, 64, SEGMENT_SIZE, time.time_ns()) == list(range(head))


def test_the_lock_binds_the_queue_and_reader_not_the_archive(queue: Path, tmp_path: Path) -> None:
    """Two archivers on one queue, two archive roots: the second is refused even before the first archived anything."""
    first_log = tmp_path / "first.log"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = start(archiver_cmd(queue, tmp_path / "a", "one", "--poll-ms", "50"), first_log)
    try:
        wait_until(lambda: queue_lock_holder(queue, "raw-archiver") is not None, what="the first to hold the lock")
        second = subprocess.run(
            archiver_cmd(queue, tmp_path / "b", "two", "--once"), capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 75 and f"pid {first.pid}" in second.stderr
    finally:
        assert stop(first) == 0


def test_an_idle_loop_with_a_poll_longer_than_the_liveness_timeout_keeps_beating(queue: Path, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    log = tmp_path / "archiver.log"
    proc = start(archiver_cmd(queue, root, VENUE, "--poll-ms", "20000", "--liveness-timeout", "1"), log)
    reader = position_path(queue, "raw-archiver")
    try:
        wait_until(lambda: reader.exists() and load_position(reader).segment_id == 2, what="segments 0-1 archived")
        idle_since = load_position(reader).heartbeat_ns
        wait_until(
            lambda: load_position(reader).heartbeat_ns > idle_since + 3 * HEARTBEAT_INTERVAL_S * 1e9,
            timeout=20,
            what="beats while idle",
        )
    finally:
        assert stop(proc) == 0
    assert not events(log, "main_loop_stalled")
