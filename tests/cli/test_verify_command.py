"""`chronicle-fleet verify` as a real process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

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


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VERIFY, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("date", ["24-01-2026", "2026-1-24", "2026-02-30", "yesterday", "2026-01-24\n"])
def test_a_malformed_date_is_a_usage_error(date: str, tmp_path: Path) -> None:
    result = verify("--archive-root", str(tmp_path), "--date", date)
    assert result.returncode == 2 and "is not a date as YYYY-MM-DD" in result.stderr


def test_nothing_found_for_a_filter_is_a_problem_and_the_summary_counts_in_words(fixture_queue, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    archive_basic(fixture_queue("basic"), root)
    nothing = verify("--archive-root", str(root), "--date", "2026-01-25")
    assert nothing.returncode == 1
    assert nothing.stdout.splitlines()[0] == f"{root}/raw/v1: no partition dated 2026-01-25"
    assert nothing.stdout.splitlines()[-1].startswith("verified 0 segments (0 B) in ")
    assert nothing.stdout.splitlines()[-1].endswith(": 1 problem, 0 warnings")
    assert "0/0" not in nothing.stderr
    unknown = verify("--archive-root", str(root), "--venue", "nope")
    assert unknown.returncode == 1 and "no archive for venue 'nope'" in unknown.stdout

    (root / "raw/v1/binance-perp/2026-01-24/raw/000000001.q.zst.idx").unlink()
    one = verify("--archive-root", str(root), "--venue", "binance-perp", "--date", "2026-01-24")
    assert one.returncode == 1 and one.stdout.splitlines()[-1].endswith(": 1 problem, 0 warnings")
    assert "verified 4 segments (256.0 KiB)" in one.stdout
    assert "verified 4/4 segments, 256.0/256.0 KiB" in one.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--acknowledge", "binance-perp:all"], "--acknowledge needs --by"),
        (["--by", "alice"], "--by and --reason go with --acknowledge"),
        (["--acknowledge", "binance-perp", "--by", "alice"], "is not VENUE:WHAT"),
        (["--acknowledge", "binance-perp:9-3", "--by", "alice"], "is not a range of segment ids"),
        (["--acknowledge", "binance-perp:x", "--by", "alice"], "is not a segment id or a range"),
        (["--acknowledge", "../x:all", "--by", "alice"], "venue name"),
        (["--acknowledge", "binance-perp:all", "--by", " "], "is not a name"),
    ],
)
def test_acknowledgement_usage_errors_exit_2_and_write_nothing(args: list[str], words: str, tmp_path: Path) -> None:
    (tmp_path / "raw/v1/binance-perp").mkdir(parents=True)
    result = verify("--archive-root", str(tmp_path), *args)
    assert result.returncode == 2 and words in result.stderr
    assert not (tmp_path / "raw/v1/binance-perp/acknowledged-losses.json").exists()


def test_acknowledging_what_is_not_a_recorded_loss_writes_nothing_and_fails(fixture_queue, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    archive_basic(fixture_queue("basic"), root)
    result = verify("--archive-root", str(root), "--acknowledge", "binance-perp:all", "--by", "alice")
    assert result.returncode == 1
    assert "binance-perp:all: no unacknowledged loss recorded there; nothing written" in result.stderr
    assert not (root / "raw/v1/binance-perp/acknowledged-losses.json").exists()
    result = verify("--archive-root", str(root), "--acknowledge", "ghost:all", "--by", "alice")
    assert result.returncode == 1 and "no archive for venue 'ghost'" in result.stderr
