"""`verify_archive` finds every kind of damage, and passes a sound archive."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import structlog

from supervisor_app.archive.archiver import ArchiverConfig, RawArchiver
from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.losses import LossCounts, acknowledge_losses, parse_selection
from supervisor_app.archive.totals import loss_counts
from supervisor_app.archive.verify import verify_archive

PARTITION = Path("raw/v1/binance-perp/2026-01-24/raw")


@pytest.fixture
def archive(fixture_queue, tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    root.mkdir()
    config = ArchiverConfig(
        source=fixture_queue("basic"),
        archive_root=root,
        venue="binance-perp",
        compress=True,
        retain_raw=True,
        block_size=16384,
    )
    RawArchiver(config, log=structlog.get_logger(), stop=threading.Event()).run_once()
    return root


def messages(root: Path, **kwargs: object) -> list[str]:
    return [f"{f.path.name}: {f.message}" for f in verify_archive(root, **kwargs).problems]  # type: ignore[arg-type]


def test_a_sound_archive_verifies(archive: Path) -> None:
    report = verify_archive(archive)
    assert report.problems == () and report.warnings == ()
    assert report.segments == 4 and report.raw_bytes == 4 * 65536


def test_progress_reaches_every_segment(archive: Path) -> None:
    seen = []
    verify_archive(archive, progress=seen.append)
    assert [p.segments_done for p in seen] == [1, 2, 3, 4]
    assert seen[-1].bytes_done == seen[-1].bytes_total == 4 * 65536


def test_a_flipped_byte_in_a_frame_is_found(archive: Path) -> None:
    zst = archive / PARTITION / "000000001.q.zst"
    data = bytearray(zst.read_bytes())
    data[len(data) // 2] ^= 0xFF
    zst.write_bytes(bytes(data))
    [problem] = messages(archive)
    assert problem.startswith("000000001.q.zst: ")


def test_a_changed_raw_copy_is_found(archive: Path) -> None:
    raw = archive / PARTITION / "000000002.q"
    data = bytearray(raw.read_bytes())
    data[100] ^= 0x01
    raw.write_bytes(bytes(data))
    [problem] = messages(archive)
    assert problem.startswith("000000002.q: decodes to 65536 bytes with CRC-32")


def test_a_missing_file_a_truncated_index_and_a_stray_tmp_are_found(archive: Path) -> None:
    partition = archive / PARTITION
    (partition / "000000000.q.zst").unlink()
    idx = partition / "000000003.q.zst.idx"
    idx.write_bytes(idx.read_bytes()[:-24])
    (partition / "000000007.q.tmp").write_bytes(b"x")
    found = messages(archive)
    assert "000000000.q.zst: listed in 000000000.meta.json but missing" in found
    assert "000000003.q.zst.idx: is 96 bytes, 000000003.meta.json says 120" in found
    assert any(m.startswith("000000007.q.tmp: stray temp file") for m in found)


def test_an_unrecorded_file_and_a_broken_meta_are_found(archive: Path, tmp_path: Path) -> None:
    partition = archive / PARTITION
    (partition / "000000042.q").write_bytes(b"x")
    assert messages(archive) == ["000000042.q: archive file not recorded in any metadata"]
    (partition / "000000042.q").unlink()
    (partition / "meta.json").write_text("{not json")
    report = verify_archive(archive)
    [problem] = report.problems
    assert problem.path == partition / "meta.json" and problem.message.startswith("not valid JSON: ")
    assert report.segments == 4  # the sidecars are still verified


def test_a_file_the_sidecar_does_not_list_and_a_sidecar_without_its_files_are_found(archive: Path) -> None:
    partition = archive / PARTITION
    sidecar = json.loads((partition / "000000001.meta.json").read_text())
    sidecar["files"] = [f for f in sidecar["files"] if not f["name"].endswith(".q")]
    sidecar["event_time_range"] = None  # keeps meta.json's totals right but for the .q's size
    (partition / "000000001.meta.json").write_text(json.dumps(sidecar))
    for name in ("000000002.q", "000000002.q.zst", "000000002.q.zst.idx"):
        (partition / name).unlink()
    stored = json.loads((partition / "meta.json").read_text())["stored_bytes"]
    assert sorted(messages(archive)) == sorted(
        [
            "000000001.q: archive file not recorded in 000000001.meta.json",
            "000000002.q: listed in 000000002.meta.json but missing",
            "000000002.q.zst: listed in 000000002.meta.json but missing",
            "000000002.q.zst.idx: listed in 000000002.meta.json but missing",
            f"meta.json: says stored_bytes {stored}, its sidecars add up to {stored - 65536}",
        ]
    )


def test_a_summary_that_disagrees_with_its_sidecars_is_found(archive: Path) -> None:
    partition = archive / PARTITION
    (partition / "000000000.meta.json").unlink()
    found = messages(archive)
    assert "000000000.q: archive file not recorded in any metadata" in found
    assert "meta.json: says segment_count 4, its sidecars add up to 3" in found
    assert "meta.json: says first_segment_id 0, its sidecars add up to 1" in found


def test_the_last_sidecar_lost_by_a_crash_is_reported_and_its_segment_still_verified(archive: Path) -> None:
    partition = archive / PARTITION
    (partition / "000000003.meta.json").unlink()  # meta.json holds it as last_applied: written first
    meta = json.loads((partition / "meta.json").read_text())
    assert meta["last_applied"]["segment_id"] == 3
    report = verify_archive(archive)
    [problem] = report.problems
    assert problem.path.name == "000000003.meta.json" and problem.message.startswith("missing (a crash left it")
    assert report.segments == 4


def test_filters_and_nothing_found_for_them(archive: Path) -> None:
    report = verify_archive(archive, venue="binance-perp", date="2026-01-25")
    assert report.segments == 0
    assert messages(archive, venue="binance-perp", date="2026-01-25") == ["binance-perp: no partition dated 2026-01-25"]
    assert messages(archive, date="2026-01-25") == ["v1: no partition dated 2026-01-25"]
    assert messages(archive, venue="nope") == ["nope: no archive for venue 'nope'"]
    assert verify_archive(archive, date="2026-01-24").problems == ()


def test_an_archive_with_nothing_archived_is_a_problem_not_a_pass(tmp_path: Path) -> None:
    (tmp_path / "raw/v1/quiet/.staging").mkdir(parents=True)  # an archiver started, nothing sealed yet
    assert messages(tmp_path) == ["v1: no archived segment to verify"]
    assert messages(tmp_path, venue="quiet") == ["quiet: no archived segment to verify"]
    (tmp_path / "raw/v1/quiet/.staging").rmdir()
    (tmp_path / "raw/v1/quiet").rmdir()
    assert messages(tmp_path) == ["v1: no archived segment to verify"]


def test_recorded_losses_fail_until_acknowledged(archive: Path) -> None:
    venue = archive / "raw/v1/binance-perp"
    missing = [{"segment_id": 9, "detected_at_ns": 1, "reason": "gone"}, {"segment_id": 12, "detected_at_ns": 2}]
    (venue / "missing-segments.json").write_text(json.dumps({"venue": "binance-perp", "missing_segments": missing}))
    reset = {"detected_at_ns": 3, "previous_position": 20, "oldest_segment": 0, "newest_segment": 4, "source": "/q"}
    (venue / "queue-resets.json").write_text(json.dumps({"venue": "binance-perp", "queue_resets": [reset]}))
    report = verify_archive(archive)
    assert [f.path.name for f in report.problems] == ["missing-segments.json"] * 2 + ["queue-resets.json"]
    assert report.problems[0].message.startswith("segment 9 was lost: gone (detected 1970-01-01T00:00:00")
    assert "restarted its segment ids" in report.problems[2].message and report.acknowledged == ()
    layout = ArchiveLayout(archive, "binance-perp")
    assert loss_counts(layout) == LossCounts(missing=2, queue_resets=1)

    ack = acknowledge_losses(layout, parse_selection("9"), by="alice", reason="TICKET-1", now_ns=10**18)
    assert ack is not None and ack.missing == {(9, 1)} and not ack.corrupt and not ack.resets
    report = verify_archive(archive)
    assert [f.message[:10] for f in report.problems] == ["segment 12", "the queue "]
    [acknowledged] = report.acknowledged
    assert acknowledged.message.endswith("acknowledged by alice at 2001-09-09T01:46:40.000000Z: TICKET-1")
    assert loss_counts(layout) == LossCounts(missing=2, missing_acknowledged=1, queue_resets=1)

    assert acknowledge_losses(layout, parse_selection("9"), by="bob", reason=None, now_ns=2 * 10**18) is None
    assert acknowledge_losses(layout, parse_selection("all"), by="bob", reason=None, now_ns=2 * 10**18) is not None
    report = verify_archive(archive)
    assert report.problems == () and len(report.acknowledged) == 3
    assert loss_counts(layout).unacknowledged == 0

    # A loss recorded after the acknowledgement, even of an acknowledged id, fails again.
    missing.append({"segment_id": 9, "detected_at_ns": 5})
    (venue / "missing-segments.json").write_text(json.dumps({"venue": "binance-perp", "missing_segments": missing}))
    [problem] = verify_archive(archive).problems
    assert problem.message.startswith("segment 9 was lost") and loss_counts(layout).unacknowledged == 1


def test_an_unreadable_missing_segments_record_is_a_problem_not_a_crash(archive: Path) -> None:
    (archive / "raw/v1/binance-perp/missing-segments.json").write_text("{oops")
    [problem] = verify_archive(archive).problems
    assert problem.path.name == "missing-segments.json" and problem.message.startswith("not valid JSON")
