"""`chronicle-fleet verify` as a real process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.commands import FLEET, archiver_cmd

VERIFY = [*FLEET, "verify"]


def archive_basic(queue: Path, root: Path) -> None:
    cmd = archiver_cmd(queue, root, "binance-perp", "--once", "--compress")
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def test_verify_exits_0_on_a_sound_archive_and_1_with_the_path_on_damage(fixture_queue, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    archive_basic(fixture_queue("basic"), root)
    ok = subprocess.run([*VERIFY, "--archive-root", str(root)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "verified 4 segments" in ok.stdout and "0 problems" in ok.stdout
    assert "verified 4/4 segments" in ok.stderr  # progress, plain lines when not a terminal

    damaged = root / "raw/v1/binance-perp/2026-01-24/raw/000000002.q.zst"
    damaged.write_bytes(damaged.read_bytes()[:-10])
    bad = subprocess.run(
        [*VERIFY, "--archive-root", str(root), "--format", "json"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 1
    [problem] = json.loads(bad.stdout)["problems"]
    assert problem["path"] == str(damaged) and "000000002.meta.json says" in problem["message"]

    sidecar = damaged.with_name("000000001.meta.json")
    sidecar.write_text(sidecar.read_text().replace('"raw_size": 65536', '"raw_size": 1e400'))
    text = subprocess.run([*VERIFY, "--archive-root", str(root)], capture_output=True, text=True, timeout=60)
    assert text.returncode == 1 and "Traceback" not in text.stderr
    assert f"{sidecar}: raw_size: inf is not an integer" in text.stdout.splitlines()


def test_verify_usage_errors_exit_2(tmp_path: Path) -> None:
    assert subprocess.run([*VERIFY], capture_output=True, timeout=60).returncode == 2
    assert (
        subprocess.run(
            [*VERIFY, "--archive-root", str(tmp_path), "--venue", "../x"], capture_output=True, timeout=60
        ).returncode
        == 2
    )
