"""Segment names and headers, against the reference fixtures and hand-made corruptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor_app.chronicle import (
    SEG_MAGIC,
    SEG_VERSION,
    decode_segment_header,
    encode_segment_header,
    list_segment_ids,
    parse_segment_name,
    queue_segment_size,
    read_segment_header,
    segment_name,
)
from supervisor_app.errors import CorruptSegmentError
from tests.chronicle.conftest import FixtureCase

# The writer's current segment and the preallocated next one are unsealed.
UNSEALED = {
    "basic": [4, 5],
    "bigrecords": [8, 9],
    "midnight": [4, 5],
    "repaired": [3],
    "tiny": [3, 4],
}


def test_segment_name_is_nine_digits() -> None:
    assert segment_name(0) == "000000000.q"
    assert segment_name(42) == "000000042.q"
    assert segment_name(123456789) == "123456789.q"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("000000000.q", 0),
        ("000000042.q", 42),
        ("999999999.q", 999999999),
        ("000000042.q.tmp", None),
        ("000000042.idx", None),
        ("12.q", None),
        ("0000000001.q", None),
        ("00000004a.q", None),
        ("000000042.Q", None),
        ("index.meta", None),
        ("", None),
    ],
)
def test_parse_segment_name(name: str, expected: int | None) -> None:
    assert parse_segment_name(name) == expected


def test_list_segment_ids_skips_everything_but_segments(tmp_path: Path) -> None:
    for name in ["000000002.q", "000000000.q", "000000003.q.tmp", "000000000.idx", "index.meta"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "readers").mkdir()
    assert list_segment_ids(tmp_path) == [0, 2]


def test_every_fixture_header_parses(fixture_case: FixtureCase) -> None:
    unsealed = []
    for segment_id in fixture_case.segment_ids:
        header = read_segment_header(fixture_case.segment_path(segment_id))
        assert (header.magic, header.version, header.segment_id) == (SEG_MAGIC, SEG_VERSION, segment_id)
        if not header.sealed:
            unsealed.append(segment_id)
    assert unsealed == UNSEALED[fixture_case.name]


def test_encode_then_decode_round_trips() -> None:
    header = decode_segment_header(encode_segment_header(7, flags=1), source="mem", expected_id=7)
    assert (header.segment_id, header.flags, header.sealed) == (7, 1, True)
    assert not decode_segment_header(encode_segment_header(7), source="mem").sealed


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_short_file_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "000000001.q", encode_segment_header(1)[:40])
    with pytest.raises(CorruptSegmentError, match=r"000000001\.q: 40 bytes, shorter than the 64-byte"):
        read_segment_header(path)


def test_bad_magic_shows_the_bytes_seen(tmp_path: Path) -> None:
    path = _write(tmp_path, "000000001.q", b"JUNK" + encode_segment_header(1)[4:])
    with pytest.raises(CorruptSegmentError, match=r"000000001\.q: bad magic 4a 55 4e 4b"):
        read_segment_header(path)


def test_unsupported_version_is_named(tmp_path: Path) -> None:
    data = bytearray(encode_segment_header(1))
    data[4] = 2
    path = _write(tmp_path, "000000001.q", bytes(data))
    with pytest.raises(CorruptSegmentError, match=r"000000001\.q: unsupported segment version 2"):
        read_segment_header(path)


def test_header_id_must_match_the_file_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "000000003.q", encode_segment_header(2))
    message = r"000000003\.q: header says segment 2 but the file name says 3"
    with pytest.raises(CorruptSegmentError, match=message):
        read_segment_header(path)


def test_explicit_expected_id_wins_over_the_name(tmp_path: Path) -> None:
    path = _write(tmp_path, "copy.bin", encode_segment_header(2))
    assert read_segment_header(path).segment_id == 2  # a name that is not a segment's: no check
    with pytest.raises(CorruptSegmentError, match="header says segment 2 but the file name says 5"):
        read_segment_header(path, expected_id=5)


def test_queue_segment_size_is_the_largest_segment_files(tmp_path: Path) -> None:
    assert queue_segment_size(tmp_path) is None
    for segment_id, size in ((3, 4096), (4, 1000), (5, 4096)):  # 4 was cut short
        (tmp_path / segment_name(segment_id)).write_bytes(encode_segment_header(segment_id).ljust(size, b"\0"))
    (tmp_path / "000000006.q.tmp").write_bytes(bytes(8192))  # being preallocated: not a segment
    assert queue_segment_size(tmp_path) == 4096
