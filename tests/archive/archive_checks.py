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


def archived_segment_ids(root: Path) -> set[int]:
    """Segment ids that some partition's meta.json records as archived."""
    ids: set[int] = set()
    for meta in root.rglob("meta.json"):
        ids.update(entry["segment_id"] for entry in json.loads(meta.read_text())["segments"])
    return ids
