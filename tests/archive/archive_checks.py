"""Assertions about an archive tree against its source queue, shared by the crash and race tests."""

from __future__ import annotations

import json
from pathlib import Path

import zstandard

from supervisor_app.archive.seekable_zstd import iter_frames, read_index


def decode_whole(zst: Path) -> bytes:
    """Decode a `.q.zst` as any zstd decoder would: every frame, in order, no index."""
    with zst.open("rb") as f:
        return zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True).read()


def assert_final_files_are_whole(root: Path, sources: dict[str, bytes]) -> None:
    """Every file under a final name holds its whole segment: no partial file is ever visible."""
    for path in root.rglob("*.q"):
        assert path.read_bytes() == sources[path.name], path
    for path in root.rglob("*.q.zst"):
        raw_name = path.name[: -len(".zst")]
        assert decode_whole(path) == sources[raw_name], path
        idx = path.with_name(path.name + ".idx")
        if idx.exists():
            assert b"".join(iter_frames(path, read_index(idx))) == sources[raw_name], idx


def recorded_entries(partition: Path, *, settled: bool) -> dict[int, dict]:
    """A partition's entries by segment id: its sidecars, and meta.json's `last_applied` (written before its sidecar).

    After a kill, the sidecar of meta.json's last entry may be missing or behind; `settled` says it may not.
    """
    meta = json.loads((partition / "meta.json").read_text())
    assert meta["format"] == "chronicle-fleet.raw-meta.v2", partition
    entries = {}
    for sidecar in partition.glob("*.meta.json"):
        entry = json.loads(sidecar.read_text())
        assert entry.pop("format") == "chronicle-fleet.raw-segment.v1", sidecar
        assert sidecar.name == f"{entry['segment_id']:09d}.meta.json", sidecar
        entries[entry["segment_id"]] = entry
    last = meta["last_applied"]
    if settled:
        assert entries[last["segment_id"]] == last, partition
    entries[last["segment_id"]] = last
    return entries


def assert_metadata_consistent(root: Path, *, settled: bool = True) -> None:
    """Each meta.json's totals are those of the entries its partition records, and every listed file is there."""
    for meta_path in root.rglob("meta.json"):
        partition = meta_path.parent
        meta = json.loads(meta_path.read_text())
        entries = recorded_entries(partition, settled=settled)
        ranges = [e["event_time_range"] for e in entries.values() if e["event_time_range"]]
        assert meta["segment_count"] == len(entries), partition
        assert meta["raw_bytes"] == sum(e["raw_size"] for e in entries.values()), partition
        assert meta["stored_bytes"] == sum(f["size"] for e in entries.values() for f in e["files"]), partition
        assert [meta["first_segment_id"], meta["last_segment_id"]] == [min(entries), max(entries)], partition
        assert meta["event_time_range"] == [min(r[0] for r in ranges), max(r[1] for r in ranges)], partition
        for entry in entries.values():
            for listed in entry["files"]:
                assert (partition / listed["name"]).stat().st_size == listed["size"], partition / listed["name"]


def archived_segment_ids(root: Path, *, settled: bool = True) -> set[int]:
    """Segment ids the metadata of some partition records as archived."""
    ids: set[int] = set()
    for meta_path in root.rglob("meta.json"):
        ids.update(recorded_entries(meta_path.parent, settled=settled))
    return ids
