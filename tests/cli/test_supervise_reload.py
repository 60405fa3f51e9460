"""`reload -c FILE` and SIGHUP: only added, removed and changed venues move; an invalid config moves nothing."""

from __future__ import annotations

import copy
import signal

import pytest

from tests.cli.fleet_runner import (
    FleetLauncher,
    cli,
    fleet_yaml,
    wait_until,
    write_yaml,
)

pytestmark = pytest.mark.slow


def _pids(status: dict[str, dict[str, object]]) -> dict[str, object]:
    return {name: venue["pid"] for name, venue in status.items()}


def test_reload_restarts_only_what_changed(launcher: FleetLauncher) -> None:
    root = launcher.root()
    data = fleet_yaml(root, [{"name": n, "bus": "main"} for n in ("alpha", "beta", "gamma")])
    fleet = launcher.start(root, data)
    before = _pids(fleet.status())

    changed = copy.deepcopy(data)
    changed["venues"] = [
        {"name": "alpha", "bus": "main", "compression": {"level": 9}},  # changed
        {"name": "beta", "bus": "main"},  # unchanged; gamma removed
        {"name": "delta", "bus": "main"},  # added
        {"name": "kraken", "bus": "main", "enabled": False},  # declared, not run
    ]
    changed["restart"]["max_delay"] = "3s"  # fleet-wide policy: applies without restarting anyone
    second = write_yaml(root / "fleet-2.yaml", changed)
    result = cli("reload", "-c", str(second))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["added: delta", "changed: alpha", "removed: gamma", "unchanged: 1"]

    after = _pids(fleet.wait_running("alpha", "beta", "delta"))
    assert set(after) == {"alpha", "beta", "delta"}
    assert after["beta"] == before["beta"]
    assert after["alpha"] != before["alpha"]
    [reloaded] = fleet.events("reloaded")
    assert (reloaded["added"], reloaded["changed"], reloaded["removed"], reloaded["unchanged"]) == (
        ["delta"],
        ["alpha"],
        ["gamma"],
        ["beta"],
    )
    assert "--level 9" in (fleet.state_dir / "supervisord.conf").read_text()

    # SIGHUP re-reads the file last applied: edit it in place to change beta alone.
    changed["venues"][1]["archiver"] = {"poll_interval": "250ms"}
    write_yaml(second, changed)
    fleet.process.send_signal(signal.SIGHUP)
    fleet.wait_events("reloaded", count=2)
    final = _pids(
        wait_until(
            lambda: (s := fleet.try_status()) and all(v["state"] == "running" for v in s.values()) and s,
            what="all running",
        )
    )
    assert final["beta"] != after["beta"]
    assert {n: final[n] for n in ("alpha", "delta")} == {n: after[n] for n in ("alpha", "delta")}


def test_an_invalid_config_changes_nothing(launcher: FleetLauncher) -> None:
    root = launcher.root()
    data = fleet_yaml(root, [{"name": "alpha", "bus": "main"}, {"name": "beta", "bus": "main"}])
    fleet = launcher.start(root, data)
    before = _pids(fleet.status())

    broken = copy.deepcopy(data)
    broken["venues"].append({"name": "Bad Name", "bus": "nowhere"})
    bad = write_yaml(root / "bad.yaml", broken)
    result = cli("reload", "-c", str(bad))
    validate = cli("validate-config", str(bad))
    assert result.returncode == 1 and validate.returncode == 1
    assert result.stdout == validate.stdout and validate.stdout.count(f"{bad}:") >= 2

    unsafe = copy.deepcopy(data)
    unsafe["archive_root"] = str(root / "archive ;evil")  # valid YAML and schema, but not for supervisord's INI
    unsafe_file = write_yaml(root / "unsafe.yaml", unsafe)
    refused = cli("reload", "-c", str(unsafe_file))
    assert refused.returncode == 1
    assert f"{unsafe_file}:2:" in refused.stdout and "archive_root" in refused.stdout and "comment" in refused.stdout

    write_yaml(fleet.config, broken)  # SIGHUP with a broken file on disk: rejected, logged, nothing moves
    fleet.process.send_signal(signal.SIGHUP)
    [rejected] = fleet.wait_events("reload_rejected")
    assert rejected["level"] == "error" and any("nowhere" in p for p in rejected["problems"])
    assert _pids(fleet.status()) == before
    assert fleet.events("reloaded") == []
