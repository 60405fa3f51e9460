"""Values that supervisord's INI parser would misread never reach it; `%` and `[` reach the archiver verbatim."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.cli.fleet_runner import (
    FleetLauncher,
    cli,
    fleet_yaml,
    json_lines,
    wait_until,
    write_yaml,
)

EVIL = "\n[program:evil]\ncommand=/bin/sh -c 'touch {root}/PWNED'\nautostart=true\n"


def _case(root: Path, case: str) -> tuple[dict[str, Any], str, str]:
    """(fleet data, the config path its problem names, words of the message)."""
    data = fleet_yaml(root, [{"name": "alpha", "bus": "main"}])
    evil = EVIL.format(root=root)
    if case == "comment-semicolon":
        data["archive_root"] = f"{root}/archive ;x"
        return data, "archive_root", "comment"
    if case == "comment-hash":
        data["buses"]["main"] = f"{root}/bus #x"
        return data, "buses.main", "comment"
    if case == "newline-section":
        data["venues"] = [{"name": "alpha", "queue": f"{root}/q{evil}"}]
        return data, "venues[0].queue", "control character"
    if case == "newline-key":
        data["supervisor"]["log_dir"] = f"{root}/logs\nchmod=0777"
        return data, "supervisor.log_dir", "control character"
    if case == "trailing-space":
        data["supervisor"]["state_dir"] = f"{root}/state "
        return data, "supervisor.state_dir", "whitespace"
    assert case == "section-in-name"
    data["venues"] = [{"name": "alpha]\n[program:evil", "bus": "main"}]  # the schema's name pattern refuses it
    return data, "venues[0].name", ""


CASES = ["comment-semicolon", "comment-hash", "newline-section", "newline-key", "trailing-space", "section-in-name"]


@pytest.mark.parametrize("case", CASES)
def test_ini_injection_is_rejected_before_anything_starts(tmp_path: Path, case: str) -> None:
    data, path, words = _case(tmp_path, case)
    config = write_yaml(tmp_path / "fleet.yaml", data)

    result = cli("run", "-c", str(config), timeout=30)

    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if f": {path}: " in line]
    assert re.match(rf"{re.escape(str(config))}:\d+:\d+: ", line) and words in line
    assert json.loads(result.stderr.splitlines()[-1])["event"] == "config_invalid"
    assert not list(tmp_path.rglob("supervisord.conf")) and not (tmp_path / "PWNED").exists()


@pytest.mark.slow
def test_percent_and_brackets_reach_the_archiver_verbatim(launcher: FleetLauncher) -> None:
    root = launcher.root()
    queue = root / "q %(here)s [x] 100%;a#b" / "queue"
    archive = root / "arch%%ive [1]"
    archive.mkdir()
    data = fleet_yaml(root, [{"name": "alpha", "queue": str(queue)}], archive_root=str(archive))
    fleet = launcher.start(root, data)

    started = wait_until(
        lambda: [e for e in json_lines(root / "logs" / "alpha.log") if e["event"] == "archiver_started"],
        what="archiver_started",
    )
    assert (started[0]["source"], started[0]["archive_root"]) == (str(queue), str(archive))
    assert "%%(here)s" in (fleet.state_dir / "supervisord.conf").read_text()
    assert fleet.status()["alpha"]["state"] == "running"
