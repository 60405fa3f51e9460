"""What the supervisor notices on its own: a hung archiver, a queue that is not there, a venue that makes no progress."""

from __future__ import annotations

import os
import signal
import time

import pytest

from supervisor_app.chronicle.reader_position import load_position
from supervisor_app.chronicle.segment import list_segment_ids
from tests.archive.queue_builders import write_queue
from tests.cli.archiving_venue import archiving_venue
from tests.cli.fleet_runner import FleetLauncher, fleet_yaml, wait_until

pytestmark = pytest.mark.slow

# The writer's 30 s reader timeout and the 10 s stall timeout, scaled down together:
# the stall timeout stays well inside the writer's timeout, as validate-config insists.
WRITER_TIMEOUT_S = 12.0
STALL_TIMEOUT = "5s"


def test_a_sigstopped_archiver_is_leased_killed_and_restarted_and_loses_nothing(launcher: FleetLauncher) -> None:
    root = launcher.root()
    with archiving_venue(launcher, root, writer_timeout_s=WRITER_TIMEOUT_S, stall_timeout=STALL_TIMEOUT) as venue:
        fleet, reader, hung_pid = venue.fleet, venue.reader, venue.pid
        os.kill(hung_pid, signal.SIGSTOP)  # stays `running` for supervisord; its heartbeat thread stops too
        stopped_at = time.monotonic()
        # Watch the reader while the archiver hangs: it must never go stale for the writer.
        while time.monotonic() - stopped_at < 2 * WRITER_TIMEOUT_S:
            position = load_position(reader)
            assert time.time_ns() - position.heartbeat_ns < WRITER_TIMEOUT_S * 1e9, "the hung reader went stale"
            time.sleep(0.25)
        [stalled] = fleet.events("archiver_stalled", "hung")
        assert stalled["level"] == "error" and stalled["child_pid"] == hung_pid and stalled["heartbeat_age_s"] >= 5
        status = fleet.wait_running("hung")["hung"]
        assert status["pid"] != hung_pid and status["restarts_by_reason"] == {"stalled": 1}
        assert (
            status["last_exit"]["reason"] == "stalled"
            and "killed by the watchdog" in status["last_exit"]["description"]
        )
    assert min(list_segment_ids(venue.queue)) > 0  # retention ran all along, behind the archiver


def test_a_missing_queue_is_a_risk_and_an_error_not_a_healthy_running_venue(launcher: FleetLauncher) -> None:
    root = launcher.root()
    write_queue(root / "bus/streams/raw/real/queue", segments=2, segment_size=64 * 1024)
    fleet = launcher.start(
        root,
        fleet_yaml(
            root,
            [{"name": "real", "bus": "main"}, {"name": "typo", "queue": str(root / "no/such/queue")}],
            defaults={"archiver": {"missing_queue_timeout": "1s"}},
        ),
    )
    wait_until(lambda: fleet.events("queue_missing", "typo"), timeout=20, what="a queue_missing error")
    [event] = fleet.events("queue_missing", "typo")
    assert event["level"] == "error" and "does not exist" in event["risk"]
    status = fleet.ctl("status")
    assert status.returncode == 3
    typo_line = next(line for line in status.stdout.splitlines() if line.startswith("typo "))
    assert "AT RISK: the queue directory" in typo_line and "does not exist" in typo_line
    assert not fleet.events("queue_missing", "real")

    (root / "no/such/queue").mkdir(parents=True)
    write_queue(root / "no/such/queue", segments=1, segment_size=64 * 1024)
    wait_until(lambda: fleet.events("queue_missing_cleared", "typo"), timeout=20, what="the risk to clear")
    wait_until(lambda: fleet.ctl("status").returncode == 0, timeout=20, what="a healthy status")


def test_a_backlog_that_does_not_move_is_reported(launcher: FleetLauncher) -> None:
    root = launcher.root()
    queue = root / "bus/streams/raw/idle/queue"
    write_queue(queue, segments=3, segment_size=64 * 1024)
    # Someone else's segment 0 in the archive: the archiver is held at once, and the backlog waits.
    conflict = root / "archive/raw/v1/idle/2026-01-24/raw/000000000.q"
    conflict.parent.mkdir(parents=True)
    conflict.write_bytes(b"another queue's segment 0")
    fleet = launcher.start(
        root,
        fleet_yaml(
            root,
            [{"name": "idle", "bus": "main"}],
            defaults={"compression": {"codec": "none"}, "archiver": {"progress_timeout": "10s"}},
        ),
        wait_for=(),
    )
    wait_until(lambda: fleet.events("no_progress", "idle"), timeout=40, what="a no_progress error")
    [event] = fleet.events("no_progress", "idle")
    assert event["level"] == "error" and event["risk"].startswith("3 sealed segments wait and none was archived")
    archive = fleet.status()["idle"]["archive"]
    assert "no_progress" in archive["risk_reasons"]


def test_an_operator_stop_survives_a_restart_of_run_until_a_start(launcher: FleetLauncher) -> None:
    root = launcher.root()
    data = fleet_yaml(root, [{"name": "alpha", "bus": "main"}, {"name": "beta", "bus": "main"}])
    fleet = launcher.start(root, data)
    assert (root / "state/run.pid").read_text().strip() == str(fleet.process.pid)
    assert fleet.ctl("stop", "beta").returncode == 0
    assert fleet.terminate() == 0
    assert not (root / "state/run.pid").exists()

    again = launcher.start(root, data, wait_for=("alpha",))
    time.sleep(1.0)
    assert again.status()["beta"]["state"] == "stopped"
    assert again.events("kept_stopped", "beta")
    assert again.ctl("status").returncode == 3  # a venue that is not running is not healthy
    assert again.ctl("start", "--all").returncode == 0
    again.wait_running("alpha", "beta")
    assert again.ctl("status").returncode == 0
    assert again.ctl("stop", "--all").returncode == 0
    assert {v["state"] for v in again.status().values()} == {"stopped"}
