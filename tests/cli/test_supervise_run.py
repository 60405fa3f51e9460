"""`chronicle-fleet run` end to end: real supervisord, real archivers, real signals."""

from __future__ import annotations

import datetime as dt
import os
import signal
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.file_lock import exclusive_lock
from tests.archive.queue_builders import write_queue
from tests.cli.fleet_runner import (
    FleetLauncher,
    RunningFleet,
    fleet_yaml,
    json_lines,
    wait_until,
)

pytestmark = pytest.mark.slow


def _wall(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def _replaced(fleet: RunningFleet, venue: str, old_pid: int) -> dict[str, dict[str, Any]]:
    def probe() -> dict[str, dict[str, Any]] | None:
        status = fleet.try_status()
        if status and status[venue]["state"] == "running" and status[venue]["pid"] not in (None, old_pid):
            return status
        return None

    return wait_until(probe, timeout=10, what=f"{venue} replaced")


def test_a_killed_archiver_is_replaced_within_1_5_s_and_logged(launcher: FleetLauncher) -> None:
    root = launcher.root()
    defaults = {"initial_delay": "1s", "max_delay": "1m", "healthy_after": "1m"}  # the shipped defaults
    fleet = launcher.start(
        root, fleet_yaml(root, [{"name": "alpha", "bus": "main"}, {"name": "beta", "bus": "main"}], restart=defaults)
    )
    before = fleet.status()

    killed_at = time.time()
    os.kill(before["alpha"]["pid"], signal.SIGKILL)
    after = _replaced(fleet, "alpha", before["alpha"]["pid"])

    assert after["beta"]["pid"] == before["beta"]["pid"]
    assert after["alpha"]["restarts"] == 1
    assert after["alpha"]["last_exit"]["signal"] == "SIGKILL"
    [exited] = fleet.events("exited", "alpha")
    assert (exited["child_pid"], exited["signal"], exited["exit_code"], exited["expected"]) == (
        before["alpha"]["pid"],
        "SIGKILL",
        None,
        False,
    )
    assert exited["level"] == "warning"
    [scheduled] = fleet.events("restart_scheduled", "alpha")
    assert (scheduled["delay_s"], scheduled["attempt"]) == (1.0, 1)
    [spawned] = [e for e in fleet.events("spawned", "alpha") if e["child_pid"] == after["alpha"]["pid"]]
    assert _wall(spawned["started_at"]) - killed_at <= 1.5  # the requirement


def test_repeated_crashes_back_off_exponentially_then_reset(launcher: FleetLauncher) -> None:
    root = launcher.root()
    lock = ArchiveLayout(root / "archive", "alpha").lock_path
    lock.parent.mkdir(parents=True)
    restart = {"initial_delay": "100ms", "max_delay": "400ms", "healthy_after": "3s"}  # far above a failing start
    # Another process holds the venue's archive lock: every archiver exits 75 (temporary) until it lets go.
    with exclusive_lock(lock, held_elsewhere=AssertionError):
        fleet = launcher.start(root, fleet_yaml(root, [{"name": "alpha", "bus": "main"}], restart=restart), wait_for=())
        scheduled = fleet.wait_events("restart_scheduled", "alpha", count=5)
        assert [e["delay_s"] for e in scheduled[:5]] == [0.1, 0.2, 0.4, 0.4, 0.4]
        assert [e["attempt"] for e in scheduled[:5]] == [1, 2, 3, 4, 5]
        assert {e["exit_code"] for e in fleet.events("exited", "alpha")} == {75}
        backing_off = wait_until(
            lambda: (s := fleet.try_status()) and s["alpha"]["state"] == "backoff" and s["alpha"],
            what="a backoff in status",
        )
        assert backing_off["next_retry_at"] and backing_off["failures"] >= 1 and backing_off["last_exit"]["code"] == 75

    # The lock is free: the next try stays up, and after healthy_after the backoff resets.
    fleet.wait_events("backoff_reset", "alpha", timeout=15)
    os.kill(fleet.status()["alpha"]["pid"], signal.SIGKILL)
    after_reset = wait_until(
        lambda: (e := fleet.events("restart_scheduled", "alpha")) and e[-1]["attempt"] == 1 and e[-1],
        what="a fresh backoff",
    )
    assert after_reset["delay_s"] == 0.1
    assert fleet.events("exited", "alpha")[-1]["signal"] == "SIGKILL"


def test_a_permanent_error_holds_the_venue_until_an_operator_starts_it(launcher: FleetLauncher) -> None:
    root = launcher.root()
    archive = root / "archive-is-a-file"
    archive.write_text("not a directory\n")  # exit 78: retrying cannot help
    fleet = launcher.start(
        root,
        fleet_yaml(
            root, [{"name": "alpha", "bus": "main"}], archive_root=str(archive), restart={"initial_delay": "100ms"}
        ),
        wait_for=(),
    )

    [held] = fleet.wait_events("held", "alpha")
    assert held["level"] == "error"
    assert "exit code 78" in held["reason"] and "is not a directory" in held["reason"]
    assert "chronicle-fleet start alpha" in held["action"]
    time.sleep(1.0)  # ten restart delays: the one way to see that no retry happens
    assert len(fleet.events("spawned", "alpha")) == 1
    status = fleet.status()["alpha"]
    assert (status["state"], status["pid"], status["next_retry_at"]) == ("held", None, None)
    assert "exit code 78" in status["held_reason"]

    archive.unlink()
    archive.mkdir()
    started = fleet.ctl("start", "alpha")
    assert started.returncode == 0, started.stderr
    assert fleet.wait_running("alpha")["alpha"]["held_reason"] is None


def test_sigterm_stops_every_archiver_cleanly_mid_segment(launcher: FleetLauncher) -> None:
    root = launcher.root()
    for venue in ("alpha", "beta"):
        write_queue(root / "bus" / "streams" / "raw" / venue / "queue", segments=12, segment_size=1024 * 1024)
    data = fleet_yaml(
        root,
        [{"name": "alpha", "bus": "main"}, {"name": "beta", "bus": "main"}],
        defaults={"compression": {"level": 19}},
    )
    fleet = launcher.start(root, data)
    pids = {name: v["pid"] for name, v in fleet.status().items()}
    wait_until(
        lambda: any(e["event"] == "segment_archived" for e in json_lines(root / "logs" / "alpha.log")),
        what="alpha archiving",
    )

    assert fleet.terminate(signal.SIGTERM, timeout=30) == 0

    archived = [e for e in json_lines(root / "logs" / "alpha.log") if e["event"] == "segment_archived"]
    assert 0 < len(archived) < 12, "the stop should have come in the middle of the work"
    partial = [p for p in (root / "archive").rglob("*") if ".tmp" in p.name]
    assert partial == []
    assert [p for p in (root / "archive").rglob(".staging/*")] == []
    stopped = {e["venue"]: e for e in fleet.events("stopped")}
    assert {name: (e["child_pid"], e["exit_code"], e["expected"]) for name, e in stopped.items()} == {
        name: (pid, 0, True) for name, pid in pids.items()
    }
    for pid in pids.values():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert fleet.events()[-1]["event"] == "run_finished"


def test_journald_mode_and_private_state_dir(launcher: FleetLauncher) -> None:
    root = launcher.root()
    fleet = launcher.start(root, fleet_yaml(root, [{"name": "alpha", "bus": "main"}], supervisor={"log_dir": None}))

    started = wait_until(
        lambda: [e for e in json_lines(fleet.stdout) if e["event"] == "archiver_started"],
        what="archiver output on stdout",
    )
    assert started[0]["venue"] == "alpha" and started[0]["pid"] == fleet.status()["alpha"]["pid"]
    state = fleet.state_dir
    modes = {
        name: stat.S_IMODE((state / name).stat().st_mode)
        for name in ("supervisord.sock", "control.sock", "supervisord.conf")
    }
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert modes == {"supervisord.sock": 0o700, "control.sock": 0o600, "supervisord.conf": 0o600}
    conf = (state / "supervisord.conf").read_text()
    assert "inet_http_server" not in conf and "stdout_logfile=/dev/stdout" in conf
    assert "supervisord started" in (state / "supervisord.log").read_text()
    assert fleet.terminate() == 0
    assert "supervisord started" not in fleet.stdout.read_text() + fleet.stderr.read_text()
    assert not list(Path(root).glob("logs/*"))


def test_if_supervisord_dies_run_stops_the_orphans_and_exits_75(launcher: FleetLauncher) -> None:
    root = launcher.root()
    fleet = launcher.start(root, fleet_yaml(root, [{"name": "alpha", "bus": "main"}]))
    archiver = fleet.status()["alpha"]["pid"]

    os.kill(int((fleet.state_dir / "supervisord.pid").read_text()), signal.SIGKILL)

    assert fleet.process.wait(30) == 75  # EX_TEMPFAIL: systemd restarts the service
    # The archiver dies with supervisord (parent-death signal); run stops any that has not yet.
    assert [e["child_pid"] for e in fleet.events("orphan_stopping")] in ([], [archiver])
    assert fleet.events("supervisord_failed")[0]["level"] == "error"
    wait_until(
        lambda: not Path(f"/proc/{archiver}").exists() or "Z" in Path(f"/proc/{archiver}/stat").read_text().split()[2],
        what="the orphan gone",
    )


def test_on_the_journal_every_line_carries_its_priority(launcher: FleetLauncher) -> None:
    root = launcher.root()
    # Someone else's segment 0 in the archive: the archiver fails (error) and is held (error).
    write_queue(root / "bus/streams/raw/alpha/queue", segments=1, segment_size=64 * 1024)
    conflict = root / "archive/raw/v1/alpha/2026-01-24/raw/000000000.q"
    conflict.parent.mkdir(parents=True)
    conflict.write_bytes(b"another queue's segment 0")
    data = fleet_yaml(
        root,
        [{"name": "alpha", "bus": "main"}],
        supervisor={"log_dir": None},
        defaults={"compression": {"codec": "none"}},
    )
    fleet = launcher.start(root, data, wait_for=(), journal=True)
    wait_until(lambda: fleet.events("held", "alpha"), timeout=30, what="the venue held")
    assert fleet.terminate() == 0
    lines = fleet.stdout.read_text().splitlines()
    entries = json_lines(fleet.stdout, finished=True, journal=True)  # checks each line's <priority>
    by_event = {(e["event"], e.get("component")): line for e, line in zip(entries, lines, strict=True)}
    assert by_event[("held", "supervisor")].startswith("<3>{")  # run's own lifecycle log
    assert by_event[("archiver_failed", None)].startswith("<3>{")  # the archiver's, relayed through supervisord
    assert by_event[("archiver_started", None)].startswith("<6>{")


def test_venue_logs_and_their_directory_have_no_world_access(launcher: FleetLauncher) -> None:
    root = launcher.root()
    fleet = launcher.start(root, fleet_yaml(root, [{"name": "alpha", "bus": "main"}]))
    wait_until(lambda: (root / "logs/alpha.log").exists(), what="the venue's log file")
    assert stat.S_IMODE((root / "logs").stat().st_mode) & 0o007 == 0
    assert stat.S_IMODE((root / "logs/alpha.log").stat().st_mode) & 0o007 == 0
    assert fleet.terminate() == 0


def test_killing_run_and_supervisord_together_leaves_no_archiver_the_next_run_cannot_manage(
    launcher: FleetLauncher,
) -> None:
    root = launcher.root()
    data = fleet_yaml(root, [{"name": "alpha", "bus": "main"}, {"name": "beta", "bus": "main"}])
    fleet = launcher.start(root, data)
    archivers = [venue["pid"] for venue in fleet.status().values()]
    supervisord = int((fleet.state_dir / "supervisord.pid").read_text())
    os.kill(fleet.process.pid, signal.SIGKILL)
    os.kill(supervisord, signal.SIGKILL)
    fleet.process.wait(10)
    # Each archiver got SIGTERM from the kernel when its parent died, and stopped cleanly.
    wait_until(
        lambda: all(
            not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
            for pid in archivers
        ),
        timeout=15,
        what="the archivers gone with supervisord",
    )
    again = launcher.start(root, data)
    assert again.ctl("stop", "alpha").returncode == 0
    assert again.status()["alpha"]["state"] == "stopped"
    assert again.status()["beta"]["state"] == "running"
    assert not again.events("restart_scheduled")  # no archiver lock held by a survivor
    assert again.terminate() == 0
