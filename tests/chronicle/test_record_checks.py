"""The record checks: each finding the scan reports, and the C scan == the Python scan on it, window by window."""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from supervisor_app.chronicle import (
    CRC32_METHOD,
    PAD_TYPE_ID,
    RecordScanner,
    RecordSummary,
    crc32,
    encode_record,
    iter_records,
    summarize_records,
)
from supervisor_app.chronicle.records import (
    COMMIT_WORD,
    INITIAL_SCAN_STATE,
    ScanState,
    scan_window_python,
)
from tests.chronicle.conftest import FixtureCase, build_segment

try:
    from supervisor_app.chronicle import _recordscan
except ImportError:
    _recordscan = None

SIZE = 8192
TS0 = 1_769_212_800_000_000_000


@dataclass(frozen=True)
class Segment:
    """A segment image and where its records start."""

    data: bytes
    offsets: list[int]

    def with_bytes(self, offset: int, data: bytes) -> bytes:
        image = bytearray(self.data)
        image[offset : offset + len(data)] = data
        return bytes(image)

    def flipped(self, offset: int) -> bytes:
        return self.with_bytes(offset, bytes([self.data[offset] ^ 0x01]))


def healthy_segment(size: int = SIZE, *, tail: int = 300) -> Segment:
    """Records of every payload length class (0, < 16, < 64, longer, one spanning 2 KiB), then zeros."""
    rng = random.Random(size)
    lengths = [0, 1, 15, 16, 17, 63, 64, 65, 200, 2000, 311, 7, 500]
    records, offsets = bytearray(), []
    seq = 0
    while 64 + len(records) + 64 + 512 + tail <= size:
        length = lengths[seq % len(lengths)] if seq < len(lengths) else rng.randrange(1, 512)
        if 64 + len(records) + 64 + length + tail > size:
            break
        offsets.append(64 + len(records))
        # Timestamps go down then up, so the range depends on which records count.
        records += encode_record(seq, TS0 + abs(seq - 5) * 1000, 7, 0, rng.randbytes(length) or b"")
        seq += 1
    return Segment(build_segment(bytes(records), size=size), offsets)


def scan(
    data: bytes, window: int, *, use_c: bool, segment_size: int | None = None, verify_crc: bool = True
) -> tuple[list[ScanState], RecordSummary]:
    scanner = RecordScanner(len(data), segment_size=segment_size, verify_crc=verify_crc, use_c=use_c)
    states = []
    for base in range(0, len(data), window):
        scanner.feed(data[base : base + window], base)
        states.append(scanner.state)
    return states, scanner.summary()


def window_sizes(data: bytes) -> list[int]:
    """Every multiple of 64 up to the whole buffer, and one window larger than it."""
    return [*range(64, len(data) + 64, 64), len(data) + 4096]


def checked(data: bytes, *, segment_size: int | None = None, verify_crc: bool = True) -> RecordSummary:
    """The summary of `data`, after asserting both twins reach the same state after every window, for every size."""
    _, whole = scan(data, len(data) + 64, use_c=False, segment_size=segment_size, verify_crc=verify_crc)
    for window in window_sizes(data):
        py_states, py = scan(data, window, use_c=False, segment_size=segment_size, verify_crc=verify_crc)
        assert py == whole, window
        if _recordscan is not None:
            c_states, c = scan(data, window, use_c=True, segment_size=segment_size, verify_crc=verify_crc)
            assert (c_states, c) == (py_states, py), window
    return whole


def timestamps(segment: Segment, data: bytes, skip: int) -> tuple[int, int]:
    kept = [r.timestamp_ns for r in iter_records(data) if r.offset != segment.offsets[skip]]
    return min(kept), max(kept)


def test_c_crc_method_is_active() -> None:
    # x86-64 with PCLMULQDQ (this dev environment): the folding CRC, not zlib's.
    cpu_flags = open("/proc/cpuinfo").read().split()  # noqa: SIM115
    if _recordscan is not None and "pclmulqdq" in cpu_flags and "sse4_1" in cpu_flags:
        assert CRC32_METHOD == "pclmul"


def test_crc32_is_zlibs_for_every_length_alignment_and_start_value() -> None:
    rng = random.Random(1)
    data = rng.randbytes(5000)
    for length in [*range(300), 511, 512, 513, 1000, 4095, 4096, 4097]:
        for start in (0, 1, 13, 16, 63):
            chunk = memoryview(data)[start : start + length]
            for value in (0, 1, 0xFFFFFFFF, rng.randrange(2**32)):
                assert crc32(chunk, value) == zlib.crc32(chunk, value), (length, start, value)
    assert crc32(b"hello") == 0x3610A686


def test_a_healthy_segment_has_no_findings() -> None:
    segment = healthy_segment()
    summary = checked(segment.data, segment_size=SIZE)
    records = list(iter_records(segment.data))
    assert summary == RecordSummary(
        record_count=len(segment.offsets),
        pad_count=0,
        min_timestamp_ns=min(r.timestamp_ns for r in records),
        max_timestamp_ns=max(r.timestamp_ns for r in records),
        data_end=records[-1].offset + records[-1].record_len,
    )
    assert not summary.corrupt
    assert len(segment.offsets) > 13  # every length class is there


def test_healthy_reference_segments_have_no_findings(fixture_case: FixtureCase) -> None:
    """Every segment of the chronicle-rs fixtures: sealed, unsealed, repaired (PAD) and empty."""
    for segment_id in fixture_case.segment_ids:
        data = fixture_case.segment_path(segment_id).read_bytes()
        whole = summarize_records(data)
        assert not whole.corrupt, (segment_id, whole)
        assert whole.bad_record_count == 0
        for window in (64, 192, 1216, 4096, 16384, len(data) + 64):
            py_states, py = scan(data, window, use_c=False, segment_size=fixture_case.segment_size)
            assert py == whole
            if _recordscan is not None:
                assert scan(data, window, use_c=True, segment_size=fixture_case.segment_size) == (py_states, py)


@pytest.mark.parametrize(
    ("case", "segment_id", "records", "pads"),
    [("repaired", 2, 57, 1), ("bigrecords", 0, 1, 0), ("basic", 0, 173, 0)],
    ids=["pad-to-the-end", "40000-byte-record", "last-record-ends-the-file"],
)
def test_reference_segments_pass_every_window_size(
    fixtures_root: Path, case: str, segment_id: int, records: int, pads: int
) -> None:
    data = (fixtures_root / case / "queue" / f"{segment_id:09d}.q").read_bytes()
    summary = checked(data, segment_size=len(data))
    assert (summary.record_count, summary.pad_count, summary.corrupt) == (records, pads, False)


# ---------------------------------------------------------------- bad records


def test_wrong_crc_in_a_header_is_a_bad_record_left_out_of_the_range() -> None:
    segment = healthy_segment()
    offset = segment.offsets[5]  # the record with the smallest timestamp
    (crc,) = struct.unpack_from("<I", segment.data, offset + 28)
    data = segment.with_bytes(offset + 28, struct.pack("<I", crc ^ 0x80000000))
    summary = checked(data)
    assert (summary.bad_record_count, summary.first_bad_offset, summary.corrupt) == (1, offset, True)
    assert summary.record_count == len(segment.offsets) - 1
    assert (summary.min_timestamp_ns, summary.max_timestamp_ns) == timestamps(segment, data, 5)
    assert summary.min_timestamp_ns != TS0  # the bad record's timestamp is not the range's start
    assert (summary.truncated, summary.data_after_end) == (False, False)


@pytest.mark.parametrize("record", [1, 2, 3, 4, 7, 9])  # payloads of 1, 15, 16, 17, 64 and 2000 bytes
def test_a_flipped_payload_byte_is_a_bad_record(record: int) -> None:
    segment = healthy_segment()
    offset = segment.offsets[record]
    commit = COMMIT_WORD.unpack_from(segment.data, offset)[0]
    for at in {offset + 64, offset + 64 + (commit - 2) // 2, offset + 64 + commit - 2}:  # first, middle, last
        summary = checked(segment.flipped(at))
        assert (summary.bad_record_count, summary.first_bad_offset) == (1, offset), at
        assert summary.record_count == len(segment.offsets) - 1


@pytest.mark.parametrize("at", [4, 7, 32, 45, 63])
def test_a_flipped_reserved_header_byte_is_a_bad_record(at: int) -> None:
    segment = healthy_segment()
    offset = segment.offsets[3]
    summary = checked(segment.flipped(offset + at))
    assert (summary.bad_record_count, summary.first_bad_offset, summary.record_count) == (
        1,
        offset,
        len(segment.offsets) - 1,
    )


def test_a_commit_word_one_off_is_a_bad_record() -> None:
    # 311 -> 312 bytes of payload: same record length, so the walk goes on in step; the CRC does not match.
    segment = healthy_segment()
    offset = segment.offsets[10]
    commit = COMMIT_WORD.unpack_from(segment.data, offset)[0]
    summary = checked(segment.with_bytes(offset, COMMIT_WORD.pack(commit + 1)))
    assert (summary.bad_record_count, summary.first_bad_offset, summary.truncated) == (1, offset, False)
    assert summary.record_count == len(segment.offsets) - 1


def test_a_data_record_marked_pad_is_a_bad_record() -> None:
    segment = healthy_segment()
    offset = segment.offsets[4]
    summary = checked(segment.with_bytes(offset + 24, struct.pack("<H", PAD_TYPE_ID)))
    assert (summary.bad_record_count, summary.pad_count, summary.first_bad_offset) == (1, 0, offset)


def test_bad_records_are_counted_each_and_the_first_is_named() -> None:
    segment = healthy_segment()
    data = segment.data
    for record in (8, 3, 11):
        data = Segment(data, segment.offsets).flipped(segment.offsets[record] + 64)
    summary = checked(data)
    assert (summary.bad_record_count, summary.first_bad_offset) == (3, segment.offsets[3])
    assert summary.record_count == len(segment.offsets) - 3


def test_a_bad_crc_in_a_record_straddling_windows() -> None:
    # A 6000-byte payload crosses windows of every size below 8 KiB; its CRC is carried across them.
    rng = random.Random(5)
    first = encode_record(0, TS0, 1, 0, rng.randbytes(100))
    big = encode_record(1, TS0 + 1, 1, 0, rng.randbytes(6000))
    last = encode_record(2, TS0 + 2, 1, 0, rng.randbytes(100))
    segment = Segment(build_segment(first + big + last, size=SIZE), [64, 64 + len(first), 64 + len(first) + len(big)])
    assert checked(segment.data) == summarize_records(segment.data)
    assert not checked(segment.data).corrupt
    for at in (64 + 4000, 64 + 6000 - 1):
        summary = checked(segment.flipped(segment.offsets[1] + at))
        assert (summary.bad_record_count, summary.first_bad_offset) == (1, segment.offsets[1])
        assert (summary.min_timestamp_ns, summary.max_timestamp_ns, summary.record_count) == (TS0, TS0 + 2, 2)


def test_without_crc_checks_only_headers_are_checked() -> None:
    segment = healthy_segment()
    flipped_payload = segment.flipped(segment.offsets[2] + 64)
    summary = checked(flipped_payload, verify_crc=False)
    assert (summary.corrupt, summary.record_count) == (False, len(segment.offsets))
    summary = checked(segment.flipped(segment.offsets[2] + 40), verify_crc=False)
    assert (summary.bad_record_count, summary.first_bad_offset) == (1, segment.offsets[2])


# ---------------------------------------------------------------- truncation


@pytest.mark.parametrize("commit", [0xFFFFFFFF, 0x80000001, SIZE])
def test_an_oversized_commit_word_is_truncation_not_the_end_of_data(commit: int) -> None:
    segment = healthy_segment()
    offset = segment.offsets[6]
    summary = checked(segment.with_bytes(offset, COMMIT_WORD.pack(commit)))
    assert (summary.truncated, summary.first_bad_offset, summary.data_end) == (True, offset, offset)
    assert (summary.record_count, summary.bad_record_count, summary.data_after_end) == (6, 0, False)


@pytest.mark.parametrize("into_record", [1, 63, 64, 65, 100])
def test_a_file_cut_inside_a_record_is_truncated(into_record: int) -> None:
    segment = healthy_segment()
    offset = segment.offsets[9]  # 2000-byte payload
    summary = checked(segment.data[: offset + into_record])
    assert (summary.truncated, summary.first_bad_offset, summary.data_end) == (True, offset, offset)
    assert summary.record_count == 9


def test_a_file_cut_at_a_record_boundary_is_truncated_only_against_the_segment_size() -> None:
    # Without the queue's segment size it reads like a full segment whose last record
    # ends at the end of the file, which healthy segments do (reference basic/000000000.q).
    segment = healthy_segment()
    offset = segment.offsets[7]
    cut = segment.data[:offset]
    assert not checked(cut).corrupt
    summary = checked(cut, segment_size=SIZE)
    assert (summary.truncated, summary.first_bad_offset, summary.record_count) == (True, offset, 7)


def test_a_file_cut_in_the_zero_tail_is_truncated_against_the_segment_size() -> None:
    segment = healthy_segment()
    cut = segment.data[: SIZE - 100]
    assert not checked(cut).corrupt
    summary = checked(cut, segment_size=SIZE)
    assert (summary.truncated, summary.first_bad_offset, summary.record_count) == (
        True,
        SIZE - 100,
        len(segment.offsets),
    )


def test_a_file_that_shrank_while_it_was_read_is_truncated() -> None:
    segment = healthy_segment()
    for use_c in (False, _recordscan is not None):
        scanner = RecordScanner(SIZE + 4096, use_c=use_c)  # its size when it was opened
        scanner.feed(segment.data, 0)
        summary = scanner.summary()
        assert (summary.truncated, summary.first_bad_offset) == (True, SIZE)


# ---------------------------------------------------------------- data after the end


def test_a_zeroed_record_header_hides_the_records_after_it() -> None:
    # A zeroed page: the walk ends at the zero commit word, but the records after it are still there.
    segment = healthy_segment()
    offset = segment.offsets[8]
    summary = checked(segment.with_bytes(offset, bytes(64)))
    assert (summary.data_end, summary.record_count, summary.data_after_end) == (offset, 8, True)
    assert summary.first_bad_offset == offset + 64  # the first byte of its (non-zero) payload


def test_a_torn_header_after_the_last_record_is_data_after_the_end() -> None:
    # A header written but never committed (commit word 0): a sealed segment never keeps one.
    segment = healthy_segment()
    end = summarize_records(segment.data).data_end
    torn = encode_record(99, TS0, 7, 0, b"lost")[:64]
    summary = checked(segment.with_bytes(end, bytes(4) + torn[4:]))
    assert (summary.data_after_end, summary.first_bad_offset, summary.record_count) == (
        True,
        end + 8,
        len(segment.offsets),
    )


@pytest.mark.parametrize("from_end", [1, 64, 250])
def test_a_non_zero_byte_in_the_zero_tail(from_end: int) -> None:
    segment = healthy_segment()
    summary = checked(segment.with_bytes(SIZE - from_end, b"\x01"))
    assert (summary.data_after_end, summary.first_bad_offset) == (True, SIZE - from_end)
    assert (summary.record_count, summary.bad_record_count, summary.truncated) == (len(segment.offsets), 0, False)


# ---------------------------------------------------------------- PAD records


def repaired(records: bytes) -> bytes:
    """`records`, then the PAD record a writer's repair leaves: zeros but its commit word and type id, to the end."""
    pad_at = 64 + len(records)
    return build_segment(records + encode_record(0, 0, PAD_TYPE_ID, 0, bytes(SIZE - pad_at - 64), crc=0), size=SIZE)


def test_a_repair_pad_is_healthy() -> None:
    # Its payload spans windows of every size and is checked for zeros across them.
    summary = checked(repaired(encode_record(0, TS0, 3, 0, b"x" * 200)), segment_size=SIZE)
    assert (summary.pad_count, summary.record_count, summary.data_end, summary.corrupt) == (1, 1, SIZE, False)


@pytest.mark.parametrize(
    ("at", "value"),
    [(8, b"\x01"), (16, b"\x01"), (26, b"\x01"), (28, b"\x01"), (64 + 5000, b"\x01"), (-1, b"\x80")],
    ids=["seq", "timestamp", "flags", "crc", "payload", "last-payload-byte"],
)
def test_a_pad_that_is_not_a_repairs_is_a_bad_record(at: int, value: bytes) -> None:
    """`at`: offset in the PAD record (from the end of the file when negative)."""
    record = encode_record(0, TS0, 3, 0, random.Random(4).randbytes(200))
    pad_at = 64 + len(record)
    data = repaired(record)
    assert checked(data).pad_count == 1
    summary = checked(Segment(data, []).with_bytes(SIZE + at if at < 0 else pad_at + at, value))
    assert (summary.pad_count, summary.bad_record_count, summary.first_bad_offset) == (0, 1, pad_at)
    assert summary.record_count == 1


def test_a_pad_that_does_not_reach_the_end_is_a_bad_record() -> None:
    record = encode_record(0, TS0, 3, 0, b"x" * 100)
    short_pad = encode_record(0, 0, PAD_TYPE_ID, 0, bytes(1000), crc=0)
    summary = checked(build_segment(record + short_pad, size=SIZE))
    assert (summary.pad_count, summary.bad_record_count, summary.first_bad_offset) == (0, 1, 64 + len(record))


# ---------------------------------------------------------------- the feed itself


def test_windows_must_follow_each_other() -> None:
    segment = healthy_segment()
    for use_c in (False, _recordscan is not None):
        scanner = RecordScanner(SIZE, use_c=use_c)
        with pytest.raises(ValueError, match="window at offset 4096"):
            scanner.feed(segment.data[4096:], 4096)  # skips the first window
        scanner.feed(segment.data[:100], 0)
        with pytest.raises(ValueError, match="window at offset 100"):
            scanner.feed(segment.data[100:], 100)  # not at a multiple of 64


@pytest.mark.skipif(_recordscan is None, reason="C scanner not built")
@pytest.mark.parametrize(
    "state",
    [
        INITIAL_SCAN_STATE._replace(next=64),  # a header before this window
        INITIAL_SCAN_STATE._replace(check=1, check_end=10),  # a check that ended before it
        INITIAL_SCAN_STATE._replace(check=1, check_end=SIZE + 1),  # ... or after the file
        INITIAL_SCAN_STATE._replace(check=7, check_end=SIZE),  # no such check
    ],
)
def test_both_twins_refuse_a_state_that_does_not_lead_to_the_window(state: ScanState) -> None:
    assert _recordscan is not None
    window = healthy_segment().data[4096:]
    for twin in (scan_window_python, _recordscan.scan_window):
        with pytest.raises(ValueError, match="scan state does not follow on to a window at offset 4096"):
            twin(window, 4096, SIZE, state, True)


# ---------------------------------------------------------------- random damage


def damaged(rng: random.Random) -> tuple[bytes, int]:
    """A healthy segment with one kind of damage, and the offset where it is."""
    segment = healthy_segment(rng.choice([4096, SIZE]), tail=rng.choice([0, 300]))
    kind = rng.choice(["flip", "flip-header", "zero-header", "commit", "cut", "tail"])
    record = rng.randrange(len(segment.offsets))
    offset = segment.offsets[record]
    if kind == "flip":
        at = rng.randrange(offset, summarize_records(segment.data).data_end)
        return segment.flipped(at), at
    if kind == "flip-header":
        return segment.flipped(offset + rng.randrange(64)), offset
    if kind == "zero-header":
        return segment.with_bytes(offset, bytes(64)), offset
    if kind == "commit":
        return segment.with_bytes(offset, COMMIT_WORD.pack(rng.randrange(1, 2**32))), offset
    if kind == "cut":
        return segment.data[: rng.randrange(offset, len(segment.data))], offset
    at = rng.randrange(summarize_records(segment.data).data_end, len(segment.data))
    return segment.with_bytes(at, bytes([rng.randrange(1, 256)])), at


def test_twins_agree_on_randomly_damaged_segments() -> None:
    rng = random.Random(20260124)
    found = 0
    for _ in range(60):
        data, _ = damaged(rng)
        window = 64 * rng.randint(1, 70)
        py_states, py = scan(data, window, use_c=False, segment_size=len(data))
        assert py == summarize_records(data)
        if _recordscan is not None:
            assert scan(data, window, use_c=True, segment_size=len(data)) == (py_states, py)
        found += py.corrupt
    assert found > 30  # most damage is found (a flip in a padding byte or a timestamp is not)


def test_payload_damage_is_always_found() -> None:
    rng = random.Random(99)
    for _ in range(40):
        segment = healthy_segment(SIZE, tail=300)
        record = rng.randrange(len(segment.offsets))
        offset = segment.offsets[record]
        commit = COMMIT_WORD.unpack_from(segment.data, offset)[0]
        if commit == 1:
            continue  # no payload
        at = offset + 64 + rng.randrange(commit - 1)
        summary = checked(segment.flipped(at)) if rng.random() < 0.1 else summarize_records(segment.flipped(at))
        assert (summary.bad_record_count, summary.first_bad_offset) == (1, offset)
