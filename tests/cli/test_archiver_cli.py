"""`chronicle-raw-archiver` as a real process: messages, exit codes and signals."""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from supervisor_app.archive.seekable_zstd import read_index
from supervisor_app.chronicle.reader_position import load_position
from supervisor_app.chronicle.writer import QueueWriter
from supervisor_app.file_lock import exclusive_lock
from tests import commands

VENUE = "binance-perp"


def archiver_cmd(queue: Path, root: Path, *extra: str, venue: str = VENUE) -> list[str]:
    return commands.archiver_cmd(queue, root, venue, *extra)


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kwargs)  # type: ignore[call-overload]


def log_lines(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def failure(stderr: str) -> dict:
    return next(line for line in log_lines(stderr) if line["event"] == "archiver_failed")


def corrupt(segment: Path, offset: int, data: bytes) -> None:
    raw = bytearray(segment.read_bytes())
    raw[offset : offset + len(data)] = data
    segment.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("offset", "data", "words"),
    [
        (0, b"\x00\x00\x00\x00", "magic"),
        (4, (2).to_bytes(4, "little"), "version"),
        (8, (7).to_bytes(4, "little"), "header says segment 7 but the file name says 1"),
    ],
)
def test_bad_header_exits_78_naming_the_file(queue: Path, root: Path, offset: int, data: bytes, words: str) -> None:
    corrupt(queue / "000000001.q", offset, data)
    result = run(archiver_cmd(queue, root, "--once"))
    assert result.returncode == 78, result.stderr
    message = failure(result.stderr)["error"]
    assert "000000001.q" in message and words in message
    assert load_position(queue / "readers" / "raw-archiver.meta").segment_id == 1
    assert not list(root.rglob("000000001.q*")) and not list(root.rglob("000000002.q*"))


@pytest.mark.parametrize("venue", ["../x", "a/b", "", ".."])
def test_bad_venue_exits_78(queue: Path, root: Path, venue: str) -> None:
    result = run(archiver_cmd(queue, root, "--once", venue=venue))
    assert result.returncode == 78
    assert "venue name" in failure(result.stderr)["error"]
    assert not (queue / "readers").exists()


def test_archive_root_that_is_a_file_exits_78(queue: Path, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    result = run(archiver_cmd(queue, not_a_dir, "--once"))
    assert result.returncode == 78
    assert "is not a directory" in failure(result.stderr)["error"]


def test_missing_archive_root_is_created_like_mkdir_p(queue: Path, tmp_path: Path) -> None:
    root = tmp_path / "fresh" / "archive"
    result = run(archiver_cmd(queue, root, "--once"))
    assert result.returncode == 0, result.stderr
    created = [e["archive_root"] for e in log_lines(result.stderr) if e["event"] == "archive_root_created"]
    assert created == [str(root)]
    assert len(list(root.rglob("*.q"))) == 4
    assert load_position(queue / "readers" / "raw-archiver.meta").segment_id == 4


def test_required_archive_root_that_is_missing_is_temporary(queue: Path, tmp_path: Path) -> None:
    root = tmp_path / "not-mounted"
    result = run(archiver_cmd(queue, root, "--once", "--require-archive-root"))
    assert result.returncode == 75
    assert failure(result.stderr)["error"] == f"archive root {root} does not exist (is it mounted?)"
    assert not root.exists() and not (queue / "readers").exists()


def test_archive_root_under_a_file_cannot_be_created_exits_78(queue: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = run(archiver_cmd(queue, tmp_path / "file" / "archive", "--once"))
    assert result.returncode == 78
    assert f"archive root {tmp_path}/file/archive cannot be created" in failure(result.stderr)["error"]


def test_missing_source_once_exits_0_after_saying_so(root: Path, tmp_path: Path) -> None:
    result = run(archiver_cmd(tmp_path / "no-queue", root, "--once"))
    assert result.returncode == 0
    assert [e["event"] for e in log_lines(result.stderr)].count("source_missing") == 1


def test_missing_source_in_loop_mode_logs_once_and_waits(root: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        archiver_cmd(tmp_path / "no-queue", root, "--poll-ms", "20"), stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    seen = [proc.stderr.readline() for _ in range(2)]  # archiver_started, then source_missing
    time.sleep(0.5)  # some 25 polls more, none of which may say it again
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    _, rest = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert [e["event"] for e in log_lines("".join(seen) + rest)].count("source_missing") == 1


@pytest.mark.parametrize(
    "extra",
    [["--level", "30"], ["--block-size", "12"], ["--block-size", "64kb"], ["--poll-ms", "x"], ["--bogus"]],
)
def test_usage_errors_exit_2(queue: Path, root: Path, extra: list[str]) -> None:
    assert run(archiver_cmd(queue, root, *extra)).returncode == 2


@pytest.mark.parametrize("block_size", ["64KiB", "65536"])
def test_block_size_in_bytes_or_with_the_configs_units(queue: Path, root: Path, block_size: str) -> None:
    result = run(archiver_cmd(queue, root, "--once", "--compress", "--block-size", block_size))
    assert result.returncode == 0, result.stderr
    indexes = [read_index(p) for p in root.rglob("*.q.zst.idx")]
    assert indexes and {index.block_size for index in indexes} == {64 * 1024}


def test_missing_required_flag_exits_2(root: Path) -> None:
    result = run([sys.executable, "-m", "supervisor_app.cli.archiver", "--archive-root", str(root), "--venue", VENUE])
    assert result.returncode == 2 and "--source" in result.stderr


def _limit_file_size() -> None:
    # Ignore SIGXFSZ so an oversized write fails with EFBIG, as ENOSPC would, instead of killing us.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (32 * 1024, resource.RLIM_INFINITY))


def test_io_error_exits_75_and_leaves_no_partial_file(queue: Path, root: Path) -> None:
    result = run(archiver_cmd(queue, root, "--once"), preexec_fn=_limit_file_size)
    assert result.returncode == 75, result.stderr
    assert "File too large" in failure(result.stderr)["error"]
    assert not list(root.rglob("*.q")) and not list(root.rglob("*.tmp"))
    assert load_position(queue / "readers" / "raw-archiver.meta").segment_id == 0


def test_sigterm_stops_the_loop_cleanly(queue: Path, root: Path) -> None:
    proc = subprocess.Popen(archiver_cmd(queue, root, "--poll-ms", "50"), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while (
        load_position(queue / "readers" / "raw-archiver.meta").segment_id < 4 if (queue / "readers").exists() else True
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert time.monotonic() - started < 10
    assert log_lines(stderr)[-1]["event"] == "archiver_stopped"
    assert not list(root.rglob("*.tmp"))


def test_every_log_line_is_json_with_the_standard_fields(queue: Path, root: Path) -> None:
    result = run(archiver_cmd(queue, root, "--once", "--compress"))
    assert result.returncode == 0
    lines = log_lines(result.stderr)
    archived = [line for line in lines if line["event"] == "segment_archived"]
    assert len(archived) == 4
    for line in lines:
        assert {"timestamp", "level", "event", "venue", "pid"} <= set(line)
        assert line["timestamp"].endswith("Z") and line["venue"] == VENUE
    assert {"destination", "raw_bytes", "archived_bytes", "duration_s"} <= set(archived[0])


def test_a_second_archiver_on_the_same_archive_is_refused_as_temporary(queue: Path, root: Path) -> None:
    venue_dir = root / "raw/v1" / VENUE
    venue_dir.mkdir(parents=True)
    with exclusive_lock(venue_dir / ".archiver.lock", held_elsewhere=AssertionError):
        result = run(archiver_cmd(queue, root, "--once"))
    assert result.returncode == 75
    assert "another archiver holds" in failure(result.stderr)["error"]
    assert not (queue / "readers").exists()


def test_a_vanished_staging_directory_is_recreated_and_nothing_is_called_missing(queue: Path, root: Path) -> None:
    proc = subprocess.Popen(archiver_cmd(queue, root, "--poll-ms", "20"), stderr=subprocess.DEVNULL)
    try:
        wait_for_position(queue, 4)
        shutil.rmtree(root / "raw/v1" / VENUE / ".staging")  # a tmp cleaner, or a tidy operator
        with QueueWriter(queue, segment_size=65536, retention=False) as writer:
            for _ in range(3):
                writer.roll()  # after 4 (PAD-repaired on reopen), seals three more
            head = writer.current_segment_id
        wait_for_position(queue, head)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert not (root / "raw/v1" / VENUE / "missing-segments.json").exists()
    assert sorted(p.name for p in root.rglob("*.q")) == [f"{i:09d}.q" for i in range(head)]


def wait_for_position(queue: Path, segment_id: int, timeout_s: float = 20.0) -> None:
    reader = queue / "readers" / "raw-archiver.meta"
    deadline = time.monotonic() + timeout_s
    while not (reader.exists() and load_position(reader).segment_id >= segment_id):
        assert time.monotonic() < deadline, f"position never reached {segment_id}"
        time.sleep(0.02)
