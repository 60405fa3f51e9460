"""SIGKILL the archiver just before and just after each metadata rename: the rerun completes, counting nothing twice.

Also: a v1 archive (every entry inline in meta.json, as the previous release wrote it) keeps
verifying, and is migrated to sidecars when its partition gets one more segment.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import structlog

from supervisor_app.archive.archiver import ArchiverConfig, RawArchiver
from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.progress import archive_progress
from supervisor_app.archive.verify import verify_archive
from supervisor_app.chronicle.reader_position import ReaderPosition, load_position, store_position
from supervisor_app.chronicle.writer import QueueWriter
from tests.archive.archive_checks import (
    archived_segment_ids,
    assert_final_files_are_whole,
    assert_metadata_consistent,
    recorded_entries,
)
from tests.archive.queue_builders import START_NS, write_queue

REPO = Path(__file__).resolve().parents[2]
VENUE = "binance-perp"
PARTITION = Path("raw/v1/binance-perp/2026-01-24/raw")
SEGMENT_SIZE = 64 * 1024
WHEN = ["before", "after"]

pytestmark = pytest.mark.slow


def killed_run(queue: Path, root: Path, kill_at: int, when: str, *extra: str) -> bool:
    """Run the archiver until its `kill_at`th metadata rename; True if it was killed there."""
    cmd = [sys.executable, "-m", "tests.archive.kill_points", str(kill_at), when]
    cmd += ["--source", str(queue), "--archive-root", str(root), "--venue", VENUE, "--once", *extra]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode in (0, -signal.SIGKILL), result.stderr
    return result.returncode == -signal.SIGKILL


def run_once(queue: Path, root: Path, **options: object) -> None:
    config = ArchiverConfig(source=queue, archive_root=root, venue=VENUE, **options)  # type: ignore[arg-type]
    RawArchiver(config, log=structlog.get_logger(), stop=threading.Event()).run_once()


def committed(queue: Path) -> int:
    path = queue / "readers" / "raw-archiver.meta"
    return load_position(path).segment_id if path.exists() else 0


def rewind_reader(queue: Path, segment_id: int) -> None:
    path = queue / "readers" / "raw-archiver.meta"
    current = load_position(path)
    store_position(path, ReaderPosition(segment_id, 64, current.heartbeat_ns, current.generation))


def sources(queue: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in queue.glob("*.q")}


def assert_recoverable(queue: Path, root: Path) -> None:
    """What a kill leaves: the position never ahead of the metadata, totals consistent, no partial file."""
    assert set(range(committed(queue))) <= archived_segment_ids(root, settled=False)
    assert_metadata_consistent(root, settled=False)
    assert_final_files_are_whole(root, sources(queue))


def assert_complete(queue: Path, root: Path, segments: int) -> None:
    assert committed(queue) == segments
    assert archived_segment_ids(root) == set(range(segments))
    assert_metadata_consistent(root)
    report = verify_archive(root)
    assert report.problems == () and report.segments == segments


@pytest.fixture
def queue(tmp_path: Path) -> Path:
    path = tmp_path / "queue"
    write_queue(path, segments=3, segment_size=SEGMENT_SIZE)
    return path


def add_segments(queue: Path, count: int) -> None:
    """Reopen the queue (which seals its current segment) and seal `count` - 1 more, all on the same day."""
    with QueueWriter(queue, segment_size=SEGMENT_SIZE, retention=False) as writer:
        for i in range(count - 1):
            writer.append(b'{"late": true}', timestamp_ns=START_NS + 10**9 + i)
            writer.roll()


# Kills 1-4 land in segments 0 and 1: the partition's first meta.json, then one on top of it (which settles first).
@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("kill_at", [1, 2, 3, 4])
def test_a_kill_at_each_metadata_rename_of_a_new_partition(queue: Path, root: Path, kill_at: int, when: str) -> None:
    assert killed_run(queue, root, kill_at, when)
    assert_recoverable(queue, root)
    run_once(queue, root)
    assert_complete(queue, root, 3)


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("kill_at", [1, 2, 3])
def test_a_kill_while_a_rerun_adds_compressed_files(queue: Path, root: Path, kill_at: int, when: str) -> None:
    run_once(queue, root)
    rewind_reader(queue, 0)
    assert killed_run(queue, root, kill_at, when, "--compress", "--retain-q")
    assert_recoverable(queue, root)
    run_once(queue, root, compress=True, retain_raw=True)
    assert_complete(queue, root, 3)
    for entry in recorded_entries(root / PARTITION, settled=True).values():
        assert len(entry["files"]) == 3  # stored_bytes followed: assert_complete checked the totals


def make_v1(partition: Path) -> dict:
    """Rewrite a partition's metadata as the previous release did: every entry inline in meta.json, no sidecars."""
    summary = json.loads((partition / "meta.json").read_text())
    entries = []
    for sidecar in sorted(partition.glob("*.meta.json")):
        entry = json.loads(sidecar.read_text())
        del entry["format"]
        entries.append(entry)
        sidecar.unlink()
    v1 = {
        "symbol_code": None,
        "venue": summary["venue"],
        "ingest_time_ns": summary["ingest_time_ns"],
        "event_time_range": summary["event_time_range"],
        "completeness": "sealed",
        "format": "chronicle-fleet.raw-meta.v1",
        "segments": entries,
    }
    (partition / "meta.json").write_text(json.dumps(v1, indent=2) + "\n")
    return v1


def test_a_v1_archive_verifies_and_is_migrated_by_its_next_segment(queue: Path, root: Path) -> None:
    run_once(queue, root)
    v1 = make_v1(root / PARTITION)
    assert verify_archive(root).problems == ()
    progress = archive_progress(queue, "raw-archiver", ArchiveLayout(root, VENUE), time.time_ns())
    assert progress.last_archived_segment == 2

    add_segments(queue, 2)
    with structlog.testing.capture_logs() as logs:
        run_once(queue, root)
    assert [e["entries"] for e in logs if e["event"] == "meta_migrated"] == [3]
    assert_complete(queue, root, 5)
    migrated = recorded_entries(root / PARTITION, settled=True)
    assert [migrated[e["segment_id"]] for e in v1["segments"]] == v1["segments"]  # archived_at_ns kept too
    meta = json.loads((root / PARTITION / "meta.json").read_text())
    assert meta["ingest_time_ns"] == v1["ingest_time_ns"] and "segments" not in meta


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("kill_at", [1, 3, 4, 5])  # 1-3: the three migrated sidecars; 4, 5: segment 3's records
def test_a_kill_during_the_migration(queue: Path, root: Path, kill_at: int, when: str) -> None:
    run_once(queue, root)
    make_v1(root / PARTITION)
    add_segments(queue, 2)
    assert killed_run(queue, root, kill_at, when)
    if json.loads((root / PARTITION / "meta.json").read_text())["format"].endswith("v1"):
        assert committed(queue) == 3  # nothing new is committed before meta.json is v2
        # The v1 list is still the record: only the crash's leftovers are reported (temp files, segment 3's files).
        for problem in verify_archive(root).problems:
            assert problem.message.startswith("stray temp file") or problem.path.name.startswith("000000003.q"), problem
    else:
        assert_recoverable(queue, root)
    run_once(queue, root)
    assert_complete(queue, root, 5)


def test_the_reference_meta_json_keeps_its_fields_and_time_range(queue: Path, root: Path) -> None:
    partition = root / PARTITION
    partition.mkdir(parents=True)
    reference = {
        "symbol_code": "BTCUSDT",
        "venue": VENUE,
        "ingest_time_ns": 1_769_212_800_123_456_789,
        "event_time_range": [START_NS - 5, START_NS - 1],  # segments the reference archived, recorded nowhere
        "completeness": "sealed",
    }
    (partition / "meta.json").write_text(json.dumps(reference, indent=2))
    run_once(queue, root)
    meta = json.loads((partition / "meta.json").read_text())
    assert {k: meta[k] for k in ("symbol_code", "venue", "ingest_time_ns", "completeness")} == {
        k: reference[k] for k in ("symbol_code", "venue", "ingest_time_ns", "completeness")
    }
    assert meta["event_time_range"][0] == START_NS - 5 and meta["event_time_range"][1] > START_NS
    assert meta["segment_count"] == 3 and sorted(recorded_entries(partition, settled=True)) == [0, 1, 2]


def test_a_sidecar_lost_to_a_kill_is_written_before_its_entry_is_superseded(queue: Path, root: Path) -> None:
    assert killed_run(queue, root, 1, "after")  # segment 0 is in meta.json (last_applied), its sidecar is not
    assert not (root / PARTITION / "000000000.meta.json").exists()
    (queue / "000000000.q").unlink()  # and its rerun never comes: the source is gone
    run_once(queue, root)
    assert sorted(recorded_entries(root / PARTITION, settled=True)) == [0, 1, 2]
    assert_metadata_consistent(root)
