"""The queue writer: byte-for-byte against the chronicle-rs fixtures, rolling, repair, retention."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from supervisor_app.chronicle import (
    QueueWriter,
    ReaderPosition,
    Record,
    RecordSummary,
    iter_records,
    list_segment_ids,
    read_segment_header,
    register_reader,
    segment_name,
    summarize_records,
)
from supervisor_app.chronicle.records import COMMIT_WORD
from tests.chronicle.conftest import FixtureCase

SMALL = 4096


def _fixture_records(case: FixtureCase) -> list[Record]:
    return [
        record
        for segment_id in case.segment_ids
        for record in iter_records(case.segment_path(segment_id).read_bytes())
        if not record.is_pad
    ]


def _replay(case: FixtureCase, queue_dir: Path) -> None:
    """Write the fixture's records again; for `repaired`, stop and reopen as its writer did."""
    with QueueWriter(queue_dir, segment_size=case.segment_size) as writer:
        for record in _fixture_records(case):
            writer.append(
                bytes(record.payload),
                timestamp_ns=record.timestamp_ns,
                type_id=record.type_id,
                flags=record.flags,
            )
    if case.name == "repaired":
        QueueWriter(queue_dir, segment_size=case.segment_size).close()


def test_segments_are_byte_identical_to_the_reference(fixture_case: FixtureCase, tmp_path: Path) -> None:
    queue_dir = tmp_path / "queue"
    _replay(fixture_case, queue_dir)
    assert list_segment_ids(queue_dir) == fixture_case.segment_ids
    for segment_id in fixture_case.segment_ids:
        ours = (queue_dir / segment_name(segment_id)).read_bytes()
        assert ours == fixture_case.segment_path(segment_id).read_bytes(), segment_name(segment_id)
    assert sorted(os.listdir(queue_dir)) == [segment_name(i) for i in fixture_case.segment_ids]


def _payloads(count: int, payload_len: int = 200) -> list[bytes]:
    return [bytes([i % 256]) * payload_len for i in range(count)]


def test_append_returns_seqs_and_rolls_when_full(tmp_path: Path) -> None:
    with QueueWriter(tmp_path, segment_size=SMALL, clock=lambda: 42) as writer:
        seqs = [writer.append(payload) for payload in _payloads(25)]  # 12 x 320-byte records per segment
        assert seqs == list(range(25))
        assert writer.current_segment_id == 2
    assert list_segment_ids(tmp_path) == [0, 1, 2, 3]
    sealed = [read_segment_header(tmp_path / segment_name(i)).sealed for i in range(4)]
    assert sealed == [True, True, False, False]
    first = list(iter_records((tmp_path / segment_name(0)).read_bytes(), verify_crc=True))
    assert [(r.seq, r.timestamp_ns, r.type_id) for r in first] == [(i, 42, 1) for i in range(12)]


def test_append_many_matches_append(tmp_path: Path) -> None:
    payloads = _payloads(30, 100)
    with QueueWriter(tmp_path / "one", segment_size=SMALL) as writer:
        for stamp, payload in enumerate(payloads):
            writer.append(payload, timestamp_ns=stamp, type_id=3, flags=2)
    with QueueWriter(tmp_path / "many", segment_size=SMALL) as writer:
        assert writer.append_many(payloads, timestamps_ns=range(30), type_id=3, flags=2) == range(30)
    for segment_id in list_segment_ids(tmp_path / "one"):
        name = segment_name(segment_id)
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "many" / name).read_bytes()


def test_append_many_rejects_a_timestamp_count_mismatch(tmp_path: Path) -> None:
    with QueueWriter(tmp_path, segment_size=SMALL) as writer, pytest.raises(ValueError):
        writer.append_many(_payloads(3), timestamps_ns=[1, 2])


def test_refuses_what_cannot_be_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="multiple of 64"):
        QueueWriter(tmp_path, segment_size=4000)
    with QueueWriter(tmp_path, segment_size=SMALL) as writer:
        writer.append(bytes(SMALL - 128))  # exactly one full segment's capacity
        with pytest.raises(ValueError, match="cannot fit a 4096-byte segment"):
            writer.append(bytes(SMALL - 127))
        with pytest.raises(ValueError, match="reserved for PAD"):
            writer.append(b"x", type_id=0xFFFF)
    with pytest.raises(ValueError, match="closed"):
        writer.append(b"x")


def test_roll_preallocates_only_when_asked(tmp_path: Path) -> None:
    with QueueWriter(tmp_path, segment_size=SMALL, preallocate_next=False) as writer:
        writer.append(b"a")
        writer.roll()
        assert writer.current_segment_id == 1
    assert list_segment_ids(tmp_path) == [0, 1]
    assert read_segment_header(tmp_path / segment_name(0)).sealed


def test_reopen_repairs_with_a_pad_and_continues(tmp_path: Path) -> None:
    with QueueWriter(tmp_path, segment_size=SMALL) as writer:
        writer.append_many(_payloads(3), timestamps_ns=[10, 11, 12])
    with QueueWriter(tmp_path, segment_size=SMALL) as writer:
        assert (writer.current_segment_id, writer.next_seq) == (1, 3)
        assert writer.append(b"after", timestamp_ns=13) == 3
    repaired = (tmp_path / segment_name(0)).read_bytes()
    assert read_segment_header(tmp_path / segment_name(0)).sealed
    assert summarize_records(repaired) == RecordSummary(3, 1, 10, 12, SMALL)


def test_reopen_after_close_with_seal_needs_no_pad(tmp_path: Path) -> None:
    with QueueWriter(tmp_path, segment_size=SMALL) as writer:
        writer.append(b"a")
        writer.close(seal=True)
    with QueueWriter(tmp_path, segment_size=SMALL) as writer:
        assert (writer.current_segment_id, writer.next_seq) == (1, 1)
    assert summarize_records((tmp_path / segment_name(0)).read_bytes()).pad_count == 0


def test_reopen_an_untouched_queue_stays_in_its_first_segment(tmp_path: Path) -> None:
    QueueWriter(tmp_path, segment_size=SMALL).close()
    with QueueWriter(tmp_path, segment_size=SMALL) as writer:
        assert (writer.current_segment_id, writer.next_seq) == (0, 0)
    assert list_segment_ids(tmp_path) == [0]


def test_reopen_clears_a_torn_record(tmp_path: Path) -> None:
    with QueueWriter(tmp_path, segment_size=SMALL) as writer:
        writer.append(b"kept")
    path = tmp_path / segment_name(0)
    torn = bytearray(path.read_bytes())
    torn[192:464] = b"\xab" * 272  # header and payload of a record whose commit word never landed
    COMMIT_WORD.pack_into(torn, 192, 0)
    path.write_bytes(bytes(torn))
    QueueWriter(tmp_path, segment_size=SMALL).close()
    repaired = path.read_bytes()
    pad = list(iter_records(repaired))[-1]
    assert (pad.offset, pad.is_pad, bytes(pad.payload)) == (192, True, bytes(SMALL - 256))


def test_roll_applies_retention(tmp_path: Path) -> None:
    clock = lambda: 10**18
    register_reader(tmp_path, "slow", ReaderPosition(segment_id=2, heartbeat_ns=10**18))
    with QueueWriter(tmp_path, segment_size=SMALL, clock=clock) as writer:
        writer.append_many(_payloads(12 * 5))  # fills segments 0..4
        assert writer.current_segment_id == 4
    assert list_segment_ids(tmp_path) == [2, 3, 4, 5]


def test_retention_can_be_turned_off(tmp_path: Path) -> None:
    (tmp_path / "readers").mkdir()  # no live reader: retention would take everything
    with QueueWriter(tmp_path, segment_size=SMALL, retention=False) as writer:
        writer.append_many(_payloads(12 * 3))
    assert list_segment_ids(tmp_path) == [0, 1, 2, 3]
