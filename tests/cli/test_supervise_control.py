"""Per-venue control through the socket: only the named venues move, the others keep their pids."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from supervisor_app.archive.queue_lock import queue_lock_holder
from tests.archive.queue_builders import write_queue
from tests.cli.fleet_runner import FleetLauncher, cli, fleet_yaml, wait_until
from tests.commands import archiver_cmd

pytestmark = pytest.mark.slow


def _pids(status: dict[str, dict[str, object]]) -> dict[str, object]:
    return {name: venue["pid"] for name, venue in status.items()}


def test_restart_stop_start_touch_only_the_named_venues(launcher: FleetLauncher) -> None:
    root = launcher.root()
    fleet = launcher.start(root, fleet_yaml(root, [{"name": n, "bus": "main"} for n in ("alpha", "beta", "gamma")]))
    before = _pids(fleet.status())

    restarted = fleet.ctl("restart", "beta")
    assert restarted.returncode == 0, restarted.stderr
    after = _pids(fleet.status())
    assert after["beta"] not in (None, before["beta"])
    assert restarted.stdout == f"beta: running (pid {after['beta']})\n"
    assert {n: after[n] for n in ("alpha", "gamma")} == {n: before[n] for n in ("alpha", "gamma")}

    stopped = fleet.ctl("stop", "gamma")
    assert stopped.returncode == 0, stopped.stderr
    status = fleet.status()
    assert (status["gamma"]["state"], status["gamma"]["pid"]) == ("stopped", None)
    assert _pids(status) == {**after, "gamma": None}
    [event] = fleet.events("stopped", "gamma")
    assert (event["child_pid"], event["exit_code"], event["expected"]) == (before["gamma"], 0, True)

    assert fleet.ctl("start", "gamma").returncode == 0
    final = _pids(fleet.wait_running("gamma"))
    assert (
        final["gamma"] not in (None, before["gamma"])
        and final["alpha"] == before["alpha"]
        and final["beta"] == after["beta"]
    )
    assert fleet.events("exited") == []  # an operator's stop is not a crash


def test_refusals_change_nothing_and_exit_non_zero(launcher: FleetLauncher) -> None:
    root = launcher.root()
    venues = [{"name": "alpha", "bus": "main"}, {"name": "kraken", "bus": "main", "enabled": False}]
    fleet = launcher.start(root, fleet_yaml(root, venues))
    before = _pids(fleet.status())

    unknown = fleet.ctl("restart", "alpha", "nope")
    assert unknown.returncode == 1 and "unknown venue 'nope'" in unknown.stderr
    disabled = fleet.ctl("start", "kraken")
    assert disabled.returncode == 1 and "'kraken' is disabled" in disabled.stderr
    assert _pids(fleet.status()) == before

    as_json = fleet.ctl("status", "--json")
    reply = json.loads(as_json.stdout)
    assert as_json.returncode == 0 and [v["pid"] for v in reply["venues"]] == [before["alpha"]]
    assert reply["healthy"] is True and reply["fleet"]["run_pid"] == fleet.process.pid
    table = fleet.ctl("status").stdout.splitlines()
    assert table[0].startswith(f"fleet: 1/1 running, 0 at risk; run pid {fleet.process.pid}, supervisord pid ")
    assert table[1].split() == [
        "VENUE",
        "STATE",
        "PID",
        "UPTIME",
        "RESTARTS",
        "LAST",
        "EXIT",
        "LAG",
        "HEARTBEAT",
        "LAST",
        "ARCHIVED",
        "SHARE",
        "OF",
        "HOST",
        "NOTE",
    ]
    assert table[2].split()[:3] == ["alpha", "running", str(before["alpha"])]


def test_control_commands_fail_when_no_fleet_runs(tmp_path: Path) -> None:
    for args in (("status",), ("stop", "alpha")):
        result = cli(*args, "--state-dir", str(tmp_path))
        assert result.returncode == 1
        assert "the fleet is not running" in result.stderr


def test_stop_never_says_stopped_while_an_archiver_of_that_venue_runs(launcher: FleetLauncher) -> None:
    root = launcher.root()
    queue = root / "bus/streams/raw/alpha/queue"
    write_queue(queue, segments=2, segment_size=64 * 1024)
    fleet = launcher.start(root, fleet_yaml(root, [{"name": "alpha", "bus": "main"}]))
    assert fleet.ctl("stop", "alpha").returncode == 0
    # Someone archives the venue's queue by hand, with the default reader name, into a scratch root.
    scratch = root / "scratch"
    manual = subprocess.Popen(archiver_cmd(queue, scratch, "alpha"), stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: queue_lock_holder(queue, "raw-archiver") is not None, what="the manual archiver's lock")
        stopped = fleet.ctl("stop", "alpha")
        assert stopped.returncode == 1
        assert f"an archiver still runs on its queue: pid {manual.pid}" in stopped.stderr
    finally:
        manual.terminate()
        manual.wait(10)
    assert fleet.ctl("stop", "alpha").returncode == 0
