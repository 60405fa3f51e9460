"""Walking records and summarizing them: fixtures, stop rules, CRCs, and the C scan == the Python scan."""

from __future__ import annotations

import mmap
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from supervisor_app.chronicle import (
    PAD_TYPE_ID,
    SCANNER_IMPLEMENTATION,
    RecordSummary,
    encode_record,
    iter_records,
    summarize_records,
    summarize_records_python,
)
from supervisor_app.chronicle.records import COMMIT_WORD, RecordScanner
from supervisor_app.errors import CorruptSegmentError
from tests.chronicle.conftest import FixtureCase, build_segment

try:
    from supervisor_app.chronicle import _recordscan
except ImportError:
    _recordscan = None

needs_c = pytest.mark.skipif(_recordscan is None, reason="C scanner not built (see test_c_scanner_is_active)")

# Committed records per segment (the repaired segment 2 includes its PAD record).
RECORD_COUNTS = {
    "basic": [173, 173, 168, 184, 2, 0],
    "bigrecords": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0],
    "midnight": [166, 168, 179, 165, 22, 0],
    "repaired": [177, 166, 58, 0],
    "tiny": [12, 12, 12, 4, 0],
}


def _summarize_c(buf: object) -> RecordSummary:
    assert _recordscan is not None
    view = memoryview(buf).cast("B")  # type: ignore[arg-type]
    scanner = RecordScanner(len(view))
    scanner.feed(view, 0)
    return scanner.summary()


def test_c_scanner_is_active() -> None:
    # A failed build silently falls back to the slow scan: in this dev environment it must not.
    assert _recordscan is not None, "supervisor_app/chronicle/_recordscan.c was not built"
    assert SCANNER_IMPLEMENTATION == "c"


def test_falls_back_to_the_python_scan_without_the_c_module() -> None:
    code = (
        "import sys\n"
        "sys.modules['supervisor_app.chronicle._recordscan'] = None  # import now fails\n"
        "from supervisor_app.chronicle import records\n"
        "print(records.SCANNER_IMPLEMENTATION, records.summarize_records(bytes(4096)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == (
        "python RecordSummary(record_count=0, pad_count=0, min_timestamp_ns=None, max_timestamp_ns=None, data_end=64,"
        " bad_record_count=0, first_bad_offset=None, truncated=False, data_after_end=False)"
    )


def test_fixture_record_counts(fixture_case: FixtureCase) -> None:
    counts = [sum(1 for _ in iter_records(fixture_case.segment_path(i).read_bytes())) for i in fixture_case.segment_ids]
    assert counts == RECORD_COUNTS[fixture_case.name]


def test_fixture_crcs_verify_and_seqs_run_on_across_segments(fixture_case: FixtureCase) -> None:
    seqs = [
        record.seq
        for segment_id in fixture_case.segment_ids
        for record in iter_records(fixture_case.segment_path(segment_id).read_bytes(), verify_crc=True)
        if not record.is_pad
    ]
    assert seqs == list(range(len(seqs)))


def test_repaired_segment_ends_with_one_pad_record(fixtures_root: Path) -> None:
    data = (fixtures_root / "repaired" / "queue" / "000000002.q").read_bytes()
    records = list(iter_records(data))
    pad = records[-1]
    assert [record.is_pad for record in records].count(True) == 1
    assert (pad.is_pad, pad.type_id, pad.seq, pad.timestamp_ns, pad.crc32) == (True, PAD_TYPE_ID, 0, 0, 0)
    assert pad.offset + pad.record_len == len(data)
    assert bytes(pad.payload) == bytes(len(data) - pad.offset - 64)


def test_repaired_summary_skips_the_pad(fixtures_root: Path) -> None:
    data = (fixtures_root / "repaired" / "queue" / "000000002.q").read_bytes()
    assert summarize_records(data) == RecordSummary(
        record_count=57,
        pad_count=1,
        min_timestamp_ns=1769212800343000000,
        max_timestamp_ns=1769212800399000000,
        data_end=65536,
    )


def test_record_fields_and_payload() -> None:
    data = build_segment(encode_record(5, 1000, 7, 3, b"hello") + encode_record(6, 900, 7, 0, b""))
    first, second = iter_records(data)
    assert (first.offset, first.seq, first.timestamp_ns, first.type_id, first.flags) == (64, 5, 1000, 7, 3)
    assert (bytes(first.payload), first.record_len, first.is_pad) == (b"hello", 128, False)
    assert (second.offset, bytes(second.payload), second.record_len) == (192, b"", 64)
    assert summarize_records(data) == RecordSummary(2, 0, 900, 1000, 256)


def test_bad_crc_names_the_offset() -> None:
    records = bytearray(encode_record(0, 1, 1, 0, b"abc") + encode_record(1, 2, 1, 0, b"xyz"))
    records[128 + 64] ^= 0xFF  # first payload byte of the second record
    data = build_segment(bytes(records))
    assert len(list(iter_records(data))) == 2  # unchecked walk does not look
    with pytest.raises(CorruptSegmentError, match="record at offset 192 \\(seq 1\\): payload CRC-32"):
        list(iter_records(data, verify_crc=True))


def test_walk_stops_at_a_record_running_past_the_end() -> None:
    # 64 header + 128 (1-byte payload) + 384 (300-byte payload) > 512
    data = build_segment(encode_record(0, 1, 1, 0, b"a") + encode_record(1, 2, 1, 0, bytes(300)), size=512)
    assert [record.seq for record in iter_records(data)] == [0]
    summary = summarize_records(data)
    assert summary.data_end == 192
    assert (summary.truncated, summary.first_bad_offset, summary.record_count) == (True, 192, 1)


def test_walk_stops_when_fewer_than_64_bytes_remain() -> None:
    data = build_segment(encode_record(0, 1, 1, 0, b"a"), size=192) + b"\xff" * 63
    assert len(list(iter_records(data))) == 1
    summary = summarize_records(data)
    assert summary.data_end == 192
    assert (summary.truncated, summary.first_bad_offset) == (True, 192)  # a header cut short: not zeros


def _pad_tail(offset: int, size: int) -> bytes:
    return encode_record(0, 0, PAD_TYPE_ID, 0, bytes(size - offset - 64), crc=0)


def _random_segment(rng: random.Random) -> bytes:
    """A segment image with random records, then one of the tails a real queue can have."""
    size = rng.choice([128, 512, 4096, 65536])
    records = bytearray()
    while rng.random() < 0.97:
        seq, timestamp_ns, type_id = rng.randrange(2**64), rng.randrange(2**64), rng.randrange(0xFFFF)
        record = encode_record(seq, timestamp_ns, type_id, 0, rng.randbytes(rng.randrange(700)))
        if 64 + len(records) + len(record) > size:
            break
        records += record
    tail = rng.choice(["zeros", "pad", "garbage", "truncated", "torn"])
    image = bytearray(build_segment(bytes(records), size=size))
    end = 64 + len(records)
    if tail == "pad" and end < size:
        image[end:] = _pad_tail(end, size)
    elif tail == "garbage":
        image[end:] = rng.randbytes(size - end)
    elif tail == "truncated":
        del image[rng.randrange(len(image) + 1) :]
    elif tail == "torn" and end + 64 <= size:
        COMMIT_WORD.pack_into(image, end, rng.randrange(1, 2**32))  # a commit word past the end
    return bytes(image)


def _edge_buffers() -> list[bytes]:
    return [
        b"",
        bytes(10),
        bytes(64),
        bytes(127),
        bytes(4096),
        build_segment(b"", size=4096),
        build_segment(_pad_tail(64, 4096)),
        build_segment(b"\xff" * 64, size=128),
        build_segment(encode_record(0, 2**64 - 1, 1, 0, b"x") + encode_record(1, 0, 1, 0, b"y")),
    ]


@needs_c
def test_scanners_agree_on_edge_buffers() -> None:
    for buf in _edge_buffers():
        assert _summarize_c(buf) == summarize_records_python(buf), buf[:80]


@needs_c
def test_scanners_agree_on_random_segments() -> None:
    rng = random.Random(20260124)
    tails_with_records = 0
    for _ in range(400):
        buf = _random_segment(rng)
        summary = _summarize_c(buf)
        assert summary == summarize_records_python(buf)
        records = list(iter_records(buf))
        assert summary.data_end == (records[-1].offset + records[-1].record_len if records else 64)
        assert summary.record_count + summary.pad_count + summary.bad_record_count == len(records)
        tails_with_records += summary.record_count > 0
    assert tails_with_records > 100  # the generator really made records


@needs_c
def test_scanners_agree_on_every_fixture_segment(fixture_case: FixtureCase) -> None:
    for segment_id in fixture_case.segment_ids:
        data = fixture_case.segment_path(segment_id).read_bytes()
        assert _summarize_c(data) == summarize_records_python(data)


@needs_c
@pytest.mark.parametrize(
    "wrap",
    [bytes, bytearray, memoryview, lambda data: memoryview(data).cast("I")],
    ids=["bytes", "bytearray", "memoryview", "memoryview-u32"],
)
def test_scanners_accept_any_buffer(wrap: Callable[[bytes], object]) -> None:
    data = build_segment(encode_record(0, 5, 1, 0, b"abc") + _pad_tail(192, 4096))
    expected = RecordSummary(1, 1, 5, 5, 4096)
    assert _summarize_c(wrap(data)) == expected
    assert summarize_records_python(wrap(data)) == expected  # type: ignore[arg-type]


@needs_c
def test_scanners_accept_an_mmap(tmp_path: Path) -> None:
    path = tmp_path / "000000000.q"
    path.write_bytes(build_segment(encode_record(0, 5, 1, 0, b"abc") + encode_record(1, 9, 1, 0, b"d")))
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert _summarize_c(mapped) == summarize_records_python(mapped) == RecordSummary(2, 0, 5, 9, 320)


def _summarize_in_windows(buf: bytes, window: int, *, use_c: bool) -> RecordSummary:
    scanner = RecordScanner(len(buf), use_c=use_c)
    for base in range(0, len(buf), window):
        scanner.feed(buf[base : base + window], base)
    return scanner.summary()


@pytest.mark.parametrize("use_c", [pytest.param(True, marks=needs_c), False], ids=["c", "python"])
def test_windowed_scan_matches_whole_buffer_scan(use_c: bool, fixture_case: FixtureCase) -> None:
    # Windows smaller than a record (bigrecords: 40,000-byte payloads) are skipped over whole.
    for segment_id in fixture_case.segment_ids:
        data = fixture_case.segment_path(segment_id).read_bytes()
        whole = summarize_records_python(data)
        for window in (64, 4096, 16384, 65536, len(data) + 64):
            assert _summarize_in_windows(data, window, use_c=use_c) == whole, (segment_id, window)


@pytest.mark.parametrize("use_c", [pytest.param(True, marks=needs_c), False], ids=["c", "python"])
def test_windowed_scan_matches_on_random_segments(use_c: bool) -> None:
    rng = random.Random(7)
    for _ in range(100):
        buf = _random_segment(rng)
        window = 64 * rng.randint(1, 64)
        assert _summarize_in_windows(buf, window, use_c=use_c) == summarize_records_python(buf)
