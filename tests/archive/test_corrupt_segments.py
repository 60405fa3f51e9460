"""Corrupt sealed segments: staging says what the record check found, and the archive keeps their bytes as they are."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest

from supervisor_app.archive.layout import ArchiveLayout, is_partition_name
from supervisor_app.archive.losses import LossCounts
from supervisor_app.archive.staging import StageOptions, stage_segment
from supervisor_app.archive.totals import loss_counts
from supervisor_app.chronicle import iter_records, queue_segment_size, segment_name
from supervisor_app.chronicle.reader_position import load_position, position_path
from supervisor_app.chronicle.records import COMMIT_WORD
from tests import commands
from tests.archive.archive_checks import assert_final_files_are_whole, decode_whole
from tests.archive.queue_builders import write_queue

SEGMENT_SIZE = 64 * 1024
RECORD_HEADER_TIMESTAMP = struct.Struct("<Q")  # at offset 16 of a record header


def _damage(queue: Path) -> dict[int, int]:
    """Damage sealed segments 0-2 (3 stays healthy); return the offset each finding must name."""
    paths = [queue / segment_name(i) for i in range(3)]
    records = [list(iter_records(p.read_bytes())) for p in paths]
    flipped, oversized, cut = records[0][10], records[1][5], records[2][40]
    image = bytearray(paths[0].read_bytes())
    image[flipped.offset + 64 + 3] ^= 0x20  # a payload byte
    paths[0].write_bytes(image)
    image = bytearray(paths[1].read_bytes())
    COMMIT_WORD.pack_into(image, oversized.offset, 0xFFFFFFF0)
    paths[1].write_bytes(image)
    paths[2].write_bytes(paths[2].read_bytes()[: cut.offset + 100])  # cut mid-record
    return {0: flipped.offset, 1: oversized.offset, 2: cut.offset}


@pytest.fixture
def damaged_queue(tmp_path: Path) -> tuple[Path, dict[int, int]]:
    queue = tmp_path / "queue"
    write_queue(queue, segments=4, segment_size=SEGMENT_SIZE)
    return queue, _damage(queue)


def test_staging_carries_the_findings_and_the_bytes_as_they_are(
    damaged_queue: tuple[Path, dict[int, int]], tmp_path: Path
) -> None:
    queue, offsets = damaged_queue
    staging = tmp_path / "staging"
    staging.mkdir()
    # 4 KiB blocks: 32 KiB windows, so records straddle windows.
    options = StageOptions(compress=True, retain_raw=True, level=3, block_size=4096)
    assert queue_segment_size(queue) == SEGMENT_SIZE
    scans = {}
    for segment_id in range(4):
        source = queue / segment_name(segment_id)
        staged = stage_segment(
            source, segment_id, staging, options, lambda: None, segment_size=queue_segment_size(queue)
        )
        assert staged.raw_tmp is not None and staged.zst_tmp is not None
        assert staged.raw_tmp.read_bytes() == source.read_bytes()
        assert decode_whole(staged.zst_tmp) == source.read_bytes()
        assert staged.raw_crc32 == zlib.crc32(source.read_bytes())
        scans[segment_id] = staged.scan
        staged.discard()
    flipped, oversized, cut, healthy = (scans[i] for i in range(4))
    assert (flipped.bad_record_count, flipped.first_bad_offset, flipped.truncated) == (1, offsets[0], False)
    assert (oversized.truncated, oversized.first_bad_offset, oversized.data_end) == (True, offsets[1], offsets[1])
    assert (cut.truncated, cut.first_bad_offset, cut.data_end) == (True, offsets[2], offsets[2])
    assert not healthy.corrupt
    assert healthy.record_count > 100


def test_a_segment_cut_at_a_record_boundary_is_truncated_against_the_queues_segment_size(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    write_queue(queue, segments=2, segment_size=SEGMENT_SIZE)
    source = queue / segment_name(0)
    boundary = list(iter_records(source.read_bytes()))[30].offset
    source.write_bytes(source.read_bytes()[:boundary])
    staging = tmp_path / "staging"
    staging.mkdir()
    options = StageOptions(compress=False, retain_raw=False, level=3, block_size=4096)
    staged = stage_segment(source, 0, staging, options, lambda: None, segment_size=queue_segment_size(queue))
    staged.discard()
    assert (staged.scan.truncated, staged.scan.first_bad_offset, staged.scan.record_count) == (True, boundary, 30)


@pytest.mark.parametrize("mode", [[], ["--compress"]], ids=["copy", "compress"])
def test_the_archiver_archives_corrupt_segments_byte_for_byte(
    damaged_queue: tuple[Path, dict[int, int]], tmp_path: Path, mode: list[str]
) -> None:
    # Refusing them would leave them to the writer's retention: the archive keeps them as they are.
    queue, _ = damaged_queue
    sources = {segment_name(i): (queue / segment_name(i)).read_bytes() for i in range(4)}
    root = tmp_path / "archive"
    root.mkdir()
    result = subprocess.run(
        commands.archiver_cmd(queue, root, "binance-perp", "--once", *mode), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    suffix = ".zst" if mode else ""
    archived = sorted(path.name for path in root.rglob("*.q" + suffix))
    assert archived == [name + suffix for name in sorted(sources)]
    assert_final_files_are_whole(root, sources)


def test_corrupt_segments_are_recorded_logged_and_fail_verify_until_acknowledged(
    damaged_queue: tuple[Path, dict[int, int]], tmp_path: Path
) -> None:
    queue, offsets = damaged_queue
    root = tmp_path / "archive"
    root.mkdir()
    result = subprocess.run(
        commands.archiver_cmd(queue, root, "binance-perp", "--once"), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    logged = {
        e["segment_id"]: e for e in map(json.loads, result.stderr.splitlines()) if e["event"] == "segment_corrupt"
    }
    assert sorted(logged) == [0, 1, 2]
    assert all(e["level"] == "error" and e["first_bad_offset"] == offsets[i] for i, e in logged.items())
    assert logged[0]["found"] == f"1 bad record(s) (payload CRC-32 or header wrong); first at offset {offsets[0]}"
    assert logged[2]["truncated"] and logged[2]["source"] == str(queue / segment_name(2))

    partition = root / "raw/v1/binance-perp/2026-01-24/raw"
    sidecars = {i: json.loads((partition / f"{i:09d}.meta.json").read_text()) for i in range(4)}
    assert [sidecars[i]["first_bad_offset"] for i in range(4)] == [offsets[0], offsets[1], offsets[2], None]
    assert (sidecars[0]["bad_record_count"], sidecars[1]["truncated"], sidecars[3]["truncated"]) == (1, True, False)
    assert [sidecars[i]["dated_by"] for i in range(4)] == ["good_records"] * 3 + ["records"]
    assert json.loads((partition / "meta.json").read_text())["corrupt_segment_count"] == 3
    assert loss_counts(ArchiveLayout(root, "binance-perp")) == LossCounts(corrupt=3)

    verify = [*commands.FLEET, "verify", "--archive-root", str(root)]
    failed = subprocess.run(verify, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    corrupt_lines = [line for line in failed.stdout.splitlines() if "was corrupt in the source queue" in line]
    assert [line.split(":")[0] for line in corrupt_lines] == [str(partition / f"{i:09d}.meta.json") for i in range(3)]
    acked = subprocess.run(
        [*verify, "--acknowledge", "binance-perp:0-2", "--by", "alice", "--reason", "feed handler bug FH-12"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert acked.returncode == 0, acked.stdout + acked.stderr
    assert (
        "acknowledged for binance-perp by alice: 0 missing segments, 3 corrupt segments, 0 queue resets" in acked.stdout
    )
    assert "3 acknowledged losses" in acked.stdout.splitlines()[-1]
    assert subprocess.run(verify, capture_output=True, timeout=60).returncode == 0
    assert loss_counts(ArchiveLayout(root, "binance-perp")) == LossCounts(corrupt=3, corrupt_acknowledged=3)


def test_a_segment_is_dated_by_its_good_records_and_by_mtime_when_it_has_none(tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    write_queue(queue, segments=3, segment_size=SEGMENT_SIZE)
    early = 1_577_836_800_000_000_000  # 2020-01-01: a bad record's timestamp must not date the segment
    first = queue / segment_name(0)
    image = bytearray(first.read_bytes())
    record = next(iter_records(bytes(image)))
    RECORD_HEADER_TIMESTAMP.pack_into(image, record.offset + 16, early)
    image[record.offset + 64] ^= 0x01  # and its payload no longer matches its CRC
    first.write_bytes(bytes(image))
    second = queue / segment_name(1)
    image = bytearray(second.read_bytes())
    for record in iter_records(bytes(image)):
        image[record.offset + 64] ^= 0x01  # every record bad: no time to go by
    second.write_bytes(bytes(image))
    os.utime(second, (1_700_000_000, 1_700_000_000))  # 2023-11-14
    root = tmp_path / "archive"
    root.mkdir()
    subprocess.run(commands.archiver_cmd(queue, root, "v", "--once"), check=True, capture_output=True, timeout=60)
    entry0 = json.loads((root / "raw/v1/v/2026-01-24/raw/000000000.meta.json").read_text())
    entry1 = json.loads((root / "raw/v1/v/2023-11-14/raw/000000001.meta.json").read_text())
    assert (entry0["dated_by"], entry0["bad_record_count"]) == ("good_records", 1)
    assert entry0["event_time_range"][0] > early
    assert (entry1["dated_by"], entry1["event_time_range"], entry1["record_count"]) == ("mtime", None, 0)


@pytest.mark.parametrize("mtime_s", [253_402_300_800, -62_135_596_801])  # 10000-01-01, and the day before 0001-01-01
def test_a_segment_dated_by_an_mtime_beyond_years_1_to_9999_is_held_saying_what_to_do(
    tmp_path: Path, mtime_s: int
) -> None:
    """tmpfs (where queues often live) keeps any mtime: no partition name can hold such a date, so it waits for a real one."""
    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        queue = Path(shm) / "queue"
        write_queue(queue, segments=2, segment_size=SEGMENT_SIZE)
        first = queue / segment_name(0)
        image = bytearray(first.read_bytes())
        for record in iter_records(bytes(image)):
            image[record.offset + 64] ^= 0x01  # every record bad: dated by its mtime
        first.write_bytes(bytes(image))
        os.utime(first, (mtime_s, mtime_s))
        assert os.stat(first).st_mtime == mtime_s  # tmpfs keeps it
        root = tmp_path / "archive"
        root.mkdir()
        held = subprocess.run(commands.archiver_cmd(queue, root, "v", "--once"), capture_output=True, timeout=60)
        position = load_position(position_path(queue, "raw-archiver")).segment_id
    venue_dir = ArchiveLayout(root, "v").venue_dir
    names = (
        [p.name for p in venue_dir.iterdir() if p.is_dir() and not p.name.startswith(".")] if venue_dir.exists() else []
    )
    assert all(is_partition_name(name) for name in names), names
    assert held.returncode == 78 and position == 0
    assert b"segment 000000000.q has no good record to date it by" in held.stderr and b"touch -d" in held.stderr
