"""The systemd unit, as far as this machine can check it: systemd's own verifier and security analysis, and its logic."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from supervisor_app.chronicle.retention import READER_TIMEOUT_NS
from tests.commands import FLEET

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "ops" / "systemd" / "chronicle-fleet.service"
INSTALLED = "/opt/chronicle-fleet/bin/chronicle-fleet"


def _settings(text: str) -> dict[str, list[str]]:
    """Every `Key=value` of the unit (a key may repeat), comments and section headers left out."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    """The unit with the installed paths pointing at this checkout's virtualenv."""
    local = Path(sys.executable).parent / "chronicle-fleet"
    path = tmp_path / "chronicle-fleet.service"
    path.write_text(UNIT.read_text().replace(INSTALLED, str(local)))
    return path


def test_systemd_verifies_the_unit_without_a_warning(unit: Path) -> None:
    checked = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stdout + checked.stderr


def test_the_unit_is_hardened(unit: Path) -> None:
    analysis = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit)], capture_output=True, text=True, timeout=60
    )
    exposure = re.search(r"Overall exposure level for \S+: ([0-9.]+)", analysis.stdout)
    assert exposure is not None, analysis.stdout + analysis.stderr
    assert float(exposure.group(1)) <= 2.5, analysis.stdout  # 8.5 ("EXPOSED") before hardening


def test_notify_watchdog_and_no_restart_loop_on_a_bad_config() -> None:
    settings = _settings(UNIT.read_text())
    assert settings["Type"] == ["notify"] and settings["WatchdogSec"]
    assert "ExecStartPre" not in settings  # RestartPreventExitStatus= does not apply to it
    assert settings["ExecStart"] == [f"{INSTALLED} run"]  # the config comes from $CHRONICLE_FLEET_CONFIG
    assert settings["Restart"] == ["on-failure"]
    assert {"1", "2"} <= set(settings["RestartPreventExitStatus"][0].split())


def test_run_with_a_bad_config_from_the_unit_s_environment_exits_with_a_code_that_stops_the_unit(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "fleet.yaml"
    bad.write_text("version: 1\narchive_root: a\nsupervisor: {state_dir: s}\nvenues: [{name: X, queue: q}]\n")
    env = {"CHRONICLE_FLEET_CONFIG": str(bad), "PATH": "/usr/bin:/bin"}  # as the unit's Environment= sets it
    result = subprocess.run([*FLEET, "run"], env=env, capture_output=True, text=True, timeout=60)
    prevented = _settings(UNIT.read_text())["RestartPreventExitStatus"][0].split()
    assert str(result.returncode) in prevented
    assert "venues[0].name" in result.stdout


def test_a_hung_engine_is_replaced_before_the_leases_it_holds_expire() -> None:
    # The engine heartbeats stopped venues' readers: from its last step, systemd waits
    # WatchdogSec, then RestartSec, then the new run needs a few seconds to lease again.
    settings = _settings(UNIT.read_text())
    watchdog_s = float(settings["WatchdogSec"][0].removesuffix("s"))
    restart_s = float(settings["RestartSec"][0].removesuffix("s"))
    start_headroom_s = 10.0
    assert watchdog_s + restart_s + start_headroom_s <= READER_TIMEOUT_NS / 1e9
