"""Reading a metadata file costs what the file holds, not the size cap that guards against a huge one."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from supervisor_app.archive.metadata_files import MAX_META_BYTES, read_json
from supervisor_app.errors import CorruptArchiveError


def test_a_small_file_is_read_without_allocating_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"segments": list(range(100))}))
    tracemalloc.start()
    try:
        assert read_json(path, MAX_META_BYTES) == {"segments": list(range(100))}
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024  # it allocated MAX_META_BYTES (256 MiB) per read


def test_a_file_over_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    path.write_text(json.dumps({"pad": "x" * 100}))
    with pytest.raises(CorruptArchiveError, match="larger than 64 bytes"):
        read_json(path, 64)
