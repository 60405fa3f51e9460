"""`chronicle-fleet demo --duration 5`, the shortened form of the README's main command."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from supervisor_app.demo.workspace import DEMO_VENUES
from tests.commands import FLEET

ROW = re.compile(
    r"^(?P<venue>\S+)\s+(?P<segments>\d+)\s+[\d.]+ MiB\s+[\d.]+ MiB\s+[\d.]+x\s+(?P<restarts>\d+)\s+.*\s(?P<matched>\d+)/(?P<archived>\d+)$"
)


def test_short_demo_archives_restarts_and_verifies(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = subprocess.run(
        [*FLEET, "demo", "--workdir", str(workdir), "--duration", "5"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {m["venue"]: m for m in (ROW.match(line) for line in result.stdout.splitlines()) if m}
    assert sorted(rows) == sorted(DEMO_VENUES)
    for row in rows.values():
        assert int(row["segments"]) > 0
        assert row["matched"] == row["archived"] == row["segments"]  # every archived segment matches its source
    assert sum(int(r["restarts"]) for r in rows.values()) >= 1
    assert re.search(r"restart: \S+ killed \(pid \d+\), running again as pid \d+", result.stdout)
    assert "verify: 0 problems" in result.stdout and "demo OK" in result.stdout

    logs = list((workdir / "logs").iterdir())
    assert {p.name for p in logs} >= {f"{v}.log" for v in DEMO_VENUES} | {"supervisor.jsonl"}
    for log in logs:
        for line in log.read_text().splitlines():
            json.loads(line)


def test_demo_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = subprocess.run(
        [*FLEET, "demo", "--workdir", str(tmp_path), "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "is not a demo directory" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"
