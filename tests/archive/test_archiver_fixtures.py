"""The archiver against every reference fixture, in copy and compress mode."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import structlog

from supervisor_app.archive.archiver import ArchiverConfig, RawArchiver
from supervisor_app.archive.seekable_zstd import iter_frames, read_index
from supervisor_app.chronicle.reader_position import load_position
from supervisor_app.chronicle.records import iter_records
from supervisor_app.chronicle.segment import read_segment_header
from tests.archive.archive_checks import assert_metadata_consistent, recorded_entries
from tests.conftest import FIXTURE_CASES

MODES = {
    "copy": {"compress": False, "retain_raw": False},
    "compress": {"compress": True, "retain_raw": True, "block_size": 16384},
}


def archive(queue: Path, root: Path, venue: str, **options: object) -> None:
    config = ArchiverConfig(source=queue, archive_root=root, venue=venue, **options)  # type: ignore[arg-type]
    RawArchiver(config, log=structlog.get_logger(), stop=threading.Event()).run_once()


def reference_files(expected_root: Path) -> dict[str, Path]:
    return {str(p.relative_to(expected_root)): p for p in expected_root.rglob("*") if p.is_file()}


def correct_relative_path(rel: str, case: str) -> str:
    # The reference filed the PAD-repaired segment 2 of `repaired` under 1970-01-01.
    if case == "repaired":
        return rel.replace("1970-01-01", "2026-01-24")
    return rel


def sealed_segments(queue: Path) -> list[Path]:
    return [p for p in sorted(queue.glob("*.q")) if read_segment_header(p).sealed]


def real_record_range(segment: Path) -> tuple[int, int]:
    stamps = [r.timestamp_ns for r in iter_records(segment.read_bytes()) if not r.is_pad]
    return min(stamps), max(stamps)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", FIXTURE_CASES)
def test_archive_matches_reference(case: str, mode: str, fixtures_dir: Path, fixture_queue, tmp_path: Path) -> None:
    venue = FIXTURE_CASES[case]
    queue = fixture_queue(case)
    root = tmp_path / "archive"
    root.mkdir()
    archive(queue, root, venue, **MODES[mode])

    expected_root = fixtures_dir / case / f"expected-{mode}"
    expected = reference_files(expected_root / "raw")
    ours = reference_files(root / "raw")
    ours = {k: v for k, v in ours.items() if not Path(k).name.startswith(".")}
    sidecars = {k for k in ours if k.endswith(".meta.json") and Path(k).name != "meta.json"}
    assert sorted(set(ours) - sidecars) == sorted({correct_relative_path(k, case) for k in expected})
    # Beside the reference's files, one sidecar per segment.
    segments = {correct_relative_path(k, case)[: -len(".q")] for k in expected if k.endswith(".q")}
    assert sidecars == {s + ".meta.json" for s in segments}

    for rel, ref_path in expected.items():
        our_path = ours[correct_relative_path(rel, case)]
        if ref_path.name.endswith(".q"):
            assert our_path.read_bytes() == (fixtures_dir / case / "queue" / ref_path.name).read_bytes()
            assert our_path.read_bytes() == ref_path.read_bytes()
        elif ref_path.name.endswith(".q.zst.idx"):
            ours_idx, ref_idx = read_index(our_path), read_index(ref_path)
            assert ours_idx.block_size == ref_idx.block_size
            assert [(e.uncompressed_offset, e.uncompressed_size) for e in ours_idx.entries] == [
                (e.uncompressed_offset, e.uncompressed_size) for e in ref_idx.entries
            ]
            zst = our_path.with_name(our_path.name[: -len(".idx")])
            raw = (fixtures_dir / case / "queue" / zst.name[: -len(".zst")]).read_bytes()
            assert b"".join(iter_frames(zst, ours_idx)) == raw

    expected_reader = load_position(expected_root / "readers" / "raw-archiver.meta")
    our_reader = load_position(queue / "readers" / "raw-archiver.meta")
    assert (our_reader.segment_id, our_reader.offset) == (expected_reader.segment_id, expected_reader.offset)


@pytest.mark.parametrize("case", FIXTURE_CASES)
def test_meta_json_keeps_reference_fields_and_covers_every_segment(
    case: str, fixtures_dir: Path, fixture_queue, tmp_path: Path
) -> None:
    venue = FIXTURE_CASES[case]
    queue = fixture_queue(case)
    root = tmp_path / "archive"
    root.mkdir()
    archive(queue, root, venue)

    by_partition: dict[Path, list[Path]] = {}
    segments = sealed_segments(queue)
    for meta_path in (root / "raw").rglob("meta.json"):
        by_partition[meta_path.parent] = [s for s in segments if (meta_path.parent / s.name).exists()]
    assert sum(len(v) for v in by_partition.values()) == len(segments)

    for partition, members in by_partition.items():
        meta = json.loads((partition / "meta.json").read_text())
        reference_meta = fixtures_dir / case / "expected-copy" / partition.relative_to(root)
        if (reference_meta / "meta.json").exists():
            reference = json.loads((reference_meta / "meta.json").read_text())
            for key in reference:
                assert key in meta
                if key not in ("ingest_time_ns", "event_time_range"):
                    assert meta[key] == reference[key], key
        ranges = [real_record_range(s) for s in members]
        assert meta["event_time_range"] == [min(r[0] for r in ranges), max(r[1] for r in ranges)]
        assert sorted(recorded_entries(partition, settled=True)) == [int(s.name[:9]) for s in members]
        assert meta["venue"] == venue and meta["completeness"] == "sealed"
        assert meta["segment_count"] == len(members)
        assert meta["raw_bytes"] == sum(s.stat().st_size for s in members)
    assert_metadata_consistent(root)


def test_repaired_segment_is_filed_by_its_real_records(fixture_queue, tmp_path: Path) -> None:
    queue = fixture_queue("repaired")
    root = tmp_path / "archive"
    root.mkdir()
    archive(queue, root, "bybit")
    assert not list((root / "raw" / "v1" / "bybit").glob("1970-01-01"))
    entry = json.loads((root / "raw/v1/bybit/2026-01-24/raw/000000002.meta.json").read_text())
    assert entry["event_time_range"][0] > 0
    assert entry["event_time_range"] == list(real_record_range(queue / "000000002.q"))
