"""`chronicle-fleet demo` as a newcomer meets it: a short run, a terminal, Ctrl-C, the hint it ends with."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from supervisor_app.demo.runner import fleet_command
from supervisor_app.demo.workspace import DEMO_VENUES
from tests.commands import FLEET
from tests.demo.terminal import render, run_in_terminal

pytestmark = pytest.mark.slow

ROW = re.compile(
    r"^(?P<venue>\S+)\s+(?P<segments>\d+)\s+[\d.]+ MiB\s+[\d.]+ MiB\s+[\d.]+x\s+(?P<restarts>\d+)\s+.*\s(?P<matched>\d+)/(?P<archived>\d+)$"
)
STATUS_LINE = re.compile(r"^t=\d+s  (?P<venue>\S+) +(running|starting|backoff) +pid \d+ +restarts \d+  last archived")
KILLED = re.compile(r"^t=[\d.]+s  killed the binance-perp archiver \(pid (?P<pid>\d+)\) with SIGKILL")
BACK = re.compile(r"^t=[\d.]+s  binance-perp archiver is back as pid (?P<pid>\d+) ")
RESTARTED = re.compile(
    r"^restart: binance-perp killed at t=[\d.]+s \(pid \d+\), running again as pid \d+ [\d.]+ s later$"
)


def demo_cmd(workdir: Path, duration_s: float) -> list[str]:
    return [*FLEET, "demo", "--workdir", str(workdir), "--duration", str(duration_s)]


def without_our_bin_on_path() -> dict[str, str]:
    ours = str(Path(sys.executable).parent)
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p).resolve() != Path(ours).resolve()]
    return {**os.environ, "PATH": os.pathsep.join(path or ["/usr/bin:/bin"])}


def test_a_short_run_archives_restarts_verifies_and_prints_a_line_per_venue(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    env = without_our_bin_on_path()  # as a newcomer's shell is: no virtualenv activated
    result = subprocess.run(demo_cmd(workdir, 3), capture_output=True, text=True, timeout=180, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()

    # It says what is about to happen before it happens.
    assert "three synthetic feeds (binance-perp, coinbase, okx-swap)" in lines[1]
    assert "killed with SIGKILL" in lines[3] and "the fleet" in lines[2]
    # Off a terminal the status is one line per venue, in one venue order everywhere.
    status = [m for m in map(STATUS_LINE.match, lines) if m]
    assert status and [m["venue"] for m in status] == list(DEMO_VENUES) * (len(status) // len(DEMO_VENUES))
    assert max(len(m.string) for m in status) <= 100
    assert re.search(
        r"^fleet running: binance-perp \(pid \d+\), coinbase \(pid \d+\), okx-swap \(pid \d+\)$", result.stdout, re.M
    )
    rows = [m for m in map(ROW.match, lines) if m]
    assert [row["venue"] for row in rows] == list(DEMO_VENUES)

    # The kill happens even in a 3 s run, and the restart is seen.
    [killed] = [m for m in map(KILLED.match, lines) if m]
    [back] = [m for m in map(BACK.match, lines) if m]
    assert back["pid"] != killed["pid"]
    assert any(RESTARTED.match(line) for line in lines)
    for row in rows:
        assert int(row["segments"]) > 0
        assert row["matched"] == row["archived"] == row["segments"]  # every archived segment matches its source
    assert int(rows[0]["restarts"]) >= 1
    assert "verify: 0 problems" in result.stdout and lines[-1] == "demo OK"

    # Its last hint works as printed, in the same shell.
    [hint] = [line.removeprefix("check it:").strip() for line in lines if line.startswith("check it:")]
    verify = subprocess.run(hint, shell=True, capture_output=True, text=True, timeout=60, env=env)
    assert verify.returncode == 0, hint + "\n" + verify.stdout + verify.stderr
    assert "0 problems" in verify.stdout

    logs = list((workdir / "logs").iterdir())
    assert {p.name for p in logs} >= {f"{v}.log" for v in DEMO_VENUES} | {"supervisor.jsonl"}
    for log in logs:
        for line in log.read_text().splitlines():
            json.loads(line)


def test_ctrl_c_in_a_terminal_keeps_the_events_above_one_status_block(tmp_path: Path) -> None:
    # Ctrl-C once the restart is on screen and the status block has been redrawn below it twice more.
    status, output = run_in_terminal(demo_cmd(tmp_path / "demo", 60), ctrl_c_when=restart_seen_and_redrawn)
    screen = render(output)

    assert status == 0, "\n".join(screen)
    headers = [i for i, line in enumerate(screen) if re.match(r"^t=\d+s of 60s", line)]
    assert len(headers) == 1, "\n".join(screen)  # one block, redrawn in place: no stale copies
    block = screen[headers[0] + 1 : headers[0] + 1 + len(DEMO_VENUES)]
    assert [line.split()[0] for line in block] == list(DEMO_VENUES)
    # The events stay, in order, above it; the Ctrl-C is one of them.
    killed = [i for i, line in enumerate(screen) if KILLED.match(line)]
    back = [i for i, line in enumerate(screen) if BACK.match(line)]
    stop = [i for i, line in enumerate(screen) if re.match(r"^Ctrl-C at t=[\d.]+s: stopping everything cleanly", line)]
    assert len(killed) == len(back) == len(stop) == 1, "\n".join(screen)
    assert killed[0] < back[0] < stop[0] < headers[0], "\n".join(screen)
    after = screen[headers[0] + 1 + len(DEMO_VENUES) :]
    assert after[0] == "feeds stopped; letting the archivers catch up", "\n".join(screen)
    assert any(RESTARTED.match(line) for line in after)
    assert "verify: 0 problems" in "\n".join(after) and after[-1] == "demo OK"


def test_ctrl_c_before_the_kill_is_no_failure(tmp_path: Path) -> None:
    proc = subprocess.Popen(demo_cmd(tmp_path / "demo", 60), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("fleet running:"):
            proc.send_signal(signal.SIGINT)
            break
    rest, errors = proc.communicate(timeout=120)
    output = "".join(seen) + rest
    assert proc.returncode == 0, output + errors
    assert re.search(r"^Ctrl-C at t=[\d.]+s: stopping everything cleanly", output, re.M)
    assert not any(KILLED.match(line) for line in output.splitlines())
    assert re.search(r"^restart: not shown: stopped at t=[\d.]+s, before the kill due at t=3s$", output, re.M)
    assert "verify: 0 problems" in output and output.splitlines()[-1] == "demo OK"


def test_demo_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = subprocess.run(demo_cmd(tmp_path, 1), capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "is not a demo directory" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.parametrize("activated", [False, True], ids=["plain-shell", "venv-activated"])
def test_the_printed_fleet_command_runs_in_the_users_shell(activated: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    env = without_our_bin_on_path()
    if activated:
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    monkeypatch.setenv("PATH", env["PATH"])
    result = subprocess.run(f"{fleet_command()} --help", shell=True, capture_output=True, text=True, env=env)
    assert result.returncode == 0 and "usage: chronicle-fleet" in result.stdout, result.stderr


def restart_seen_and_redrawn(output: bytes) -> bool:
    back = output.find(b"archiver is back as pid")
    return back >= 0 and output[back:].count(b"s of 60s") >= 3
