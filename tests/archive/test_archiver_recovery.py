"""Reruns finish what a crash left, and never overwrite different bytes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import structlog

from supervisor_app.archive.archiver import ArchiverConfig, RawArchiver
from supervisor_app.archive.seekable_zstd import iter_frames, read_index
from supervisor_app.chronicle.reader_position import (
    ReaderPosition,
    load_position,
    register_reader,
    store_position,
)
from supervisor_app.chronicle.records import iter_records
from supervisor_app.errors import ArchiveConflictError, CorruptSegmentError
from tests.archive.archive_checks import assert_metadata_consistent, recorded_entries

VENUE = "binance-perp"
PARTITION = Path("raw/v1/binance-perp/2026-01-24/raw")


def run_once(queue: Path, root: Path, **options: object) -> None:
    config = ArchiverConfig(source=queue, archive_root=root, venue=VENUE, **options)  # type: ignore[arg-type]
    RawArchiver(config, log=structlog.get_logger(), stop=threading.Event()).run_once()


def rewind_reader(queue: Path, segment_id: int = 0) -> None:
    path = queue / "readers" / "raw-archiver.meta"
    current = load_position(path)
    store_position(path, ReaderPosition(segment_id, 64, current.heartbeat_ns, current.generation))


def test_stray_tmp_files_are_removed_and_the_archive_completes(queue: Path, root: Path) -> None:
    run_once(queue, root)
    partition = root / PARTITION
    (partition / "000000009.q.tmp").write_bytes(b"half a segment")
    (root / "raw/v1/binance-perp/.staging/000000003.q.tmp").write_bytes(b"torn")
    (partition / "000000003.q").unlink()
    rewind_reader(queue, 3)
    run_once(queue, root)
    assert not list(root.rglob("*.tmp"))
    assert (partition / "000000003.q").read_bytes() == (queue / "000000003.q").read_bytes()


def test_zst_without_idx_is_completed(queue: Path, root: Path) -> None:
    run_once(queue, root, compress=True)
    partition = root / PARTITION
    index_bytes = (partition / "000000002.q.zst.idx").read_bytes()
    (partition / "000000002.q.zst.idx").unlink()
    rewind_reader(queue, 2)
    run_once(queue, root, compress=True)
    assert (partition / "000000002.q.zst.idx").read_bytes() == index_bytes


def test_zst_from_another_level_is_kept_and_indexed(queue: Path, root: Path) -> None:
    run_once(queue, root, compress=True, level=19)
    partition = root / PARTITION
    kept = (partition / "000000001.q.zst").read_bytes()
    (partition / "000000001.q.zst.idx").unlink()
    rewind_reader(queue, 1)
    run_once(queue, root, compress=True, level=1)
    assert (partition / "000000001.q.zst").read_bytes() == kept
    index = read_index(partition / "000000001.q.zst.idx")
    assert b"".join(iter_frames(partition / "000000001.q.zst", index)) == (queue / "000000001.q").read_bytes()


def test_copy_run_then_compress_run_adds_zst_and_keeps_q(queue: Path, root: Path) -> None:
    run_once(queue, root)
    rewind_reader(queue, 0)
    run_once(queue, root, compress=True)
    partition = root / PARTITION
    for entry in recorded_entries(partition, settled=True).values():
        name = f"{entry['segment_id']:09d}.q"
        assert [f["name"] for f in entry["files"]] == [name, name + ".zst", name + ".zst.idx"]
        index = read_index(partition / (name + ".zst.idx"))
        assert b"".join(iter_frames(partition / (name + ".zst"), index)) == (queue / name).read_bytes()
    assert_metadata_consistent(root)  # stored_bytes grew by the .zst files, the segment count did not


def test_compress_without_retain_never_writes_a_q(queue: Path, root: Path) -> None:
    run_once(queue, root, compress=True)
    assert not list(root.rglob("*.q"))
    assert len(list(root.rglob("*.q.zst"))) == 4


def test_existing_destination_with_other_bytes_is_an_error_and_is_kept(queue: Path, root: Path) -> None:
    run_once(queue, root)
    partition = root / PARTITION
    (partition / "000000001.q").write_bytes(b"someone else's segment")
    rewind_reader(queue, 1)
    with pytest.raises(ArchiveConflictError, match=r"000000001\.q already exists with different bytes"):
        run_once(queue, root)
    assert (partition / "000000001.q").read_bytes() == b"someone else's segment"
    assert load_position(queue / "readers" / "raw-archiver.meta").segment_id == 1
    assert not list(root.rglob("*.tmp"))


def test_corrupt_header_stops_the_pass_without_moving_the_position(queue: Path, root: Path) -> None:
    segment = queue / "000000002.q"
    data = bytearray(segment.read_bytes())
    data[0:4] = b"XXXX"
    segment.write_bytes(bytes(data))
    with pytest.raises(CorruptSegmentError, match=r"000000002\.q"):
        run_once(queue, root)
    assert load_position(queue / "readers" / "raw-archiver.meta").segment_id == 2
    assert sorted(p.name for p in (root / PARTITION).glob("*.q")) == ["000000000.q", "000000001.q"]


def test_segments_deleted_before_archiving_are_recorded_and_logged(queue: Path, root: Path) -> None:
    register_reader(queue, "raw-archiver", ReaderPosition(0, 64, 1, 0))
    (queue / "000000000.q").unlink()
    (queue / "000000001.q").unlink()
    with structlog.testing.capture_logs() as logs:
        run_once(queue, root)
    missing = json.loads((root / "raw/v1/binance-perp/missing-segments.json").read_text())
    assert [m["segment_id"] for m in missing["missing_segments"]] == [0, 1]
    errors = [e for e in logs if e["log_level"] == "error"]
    assert errors and errors[0]["event"] == "segments_missing" and errors[0]["segment_ids"] == [0, 1]
    assert sorted(p.name for p in (root / PARTITION).glob("*.q")) == ["000000002.q", "000000003.q"]
    assert load_position(queue / "readers" / "raw-archiver.meta").segment_id == 4


def test_new_reader_starts_at_the_oldest_segment_present(queue: Path, root: Path) -> None:
    (queue / "000000000.q").unlink()
    run_once(queue, root)
    assert not (root / "raw/v1/binance-perp/missing-segments.json").exists()
    assert load_position(queue / "readers" / "raw-archiver.meta").segment_id == 4


def test_rerun_is_idempotent(queue: Path, root: Path) -> None:
    run_once(queue, root, compress=True, retain_raw=True)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    rewind_reader(queue, 0)
    run_once(queue, root, compress=True, retain_raw=True)
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert before == after  # metadata too: an identical entry keeps when it was first archived


def test_a_block_size_that_is_no_multiple_of_64_still_counts_every_record(queue: Path, root: Path) -> None:
    run_once(queue, root, compress=True, block_size=4100)
    for entry in recorded_entries(root / PARTITION, settled=True).values():
        records = [r for r in iter_records((queue / f"{entry['segment_id']:09d}.q").read_bytes()) if not r.is_pad]
        assert entry["record_count"] == len(records)
        assert entry["event_time_range"] == [records[0].timestamp_ns, records[-1].timestamp_ns]
        index = read_index(root / PARTITION / f"{entry['segment_id']:09d}.q.zst.idx")
        assert index.block_size == 4100


def test_a_sidecar_recording_other_bytes_is_a_conflict_and_is_kept(queue: Path, root: Path) -> None:
    run_once(queue, root)
    sidecar = root / PARTITION / "000000001.meta.json"
    entry = json.loads(sidecar.read_text())
    entry["raw_crc32"] = "00000000"
    sidecar.write_text(json.dumps(entry))
    rewind_reader(queue, 1)
    with pytest.raises(ArchiveConflictError, match=r"000000001\.meta\.json already records segment 1 with a different"):
        run_once(queue, root)
    assert json.loads(sidecar.read_text()) == entry
    assert load_position(queue / "readers" / "raw-archiver.meta").segment_id == 1
