"""Loss selections, and counts a status poll can afford: what a TotalsReader says is what loss_counts says."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.losses import (
    LossCounts,
    LossSelection,
    acknowledge_losses,
    parse_selection,
)
from supervisor_app.archive.totals import TotalsReader, loss_counts
from supervisor_app.chronicle.records import iter_records
from supervisor_app.chronicle.segment import segment_name
from supervisor_app.chronicle.writer import QueueWriter
from tests.archive.queue_builders import START_NS, write_queue
from tests.commands import archiver_cmd

SEGMENT_SIZE = 64 * 1024


@pytest.mark.parametrize(
    ("text", "selection"),
    [
        ("all", LossSelection("all", everything=True)),
        ("resets", LossSelection("resets", resets=True)),
        ("7", LossSelection("7", ranges=((7, 7),))),
        ("3, 5-9", LossSelection("3, 5-9", ranges=((3, 3), (5, 9)))),
    ],
)
def test_selections_parse(text: str, selection: LossSelection) -> None:
    assert parse_selection(text) == selection


@pytest.mark.parametrize("text", ["", "x", "9-3", "1000000000", "1,,2", "-3", "all,3"])
def test_bad_selections_say_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError, match="segment id"):
        parse_selection(text)


def flip_a_payload_byte(segment: Path) -> None:
    image = bytearray(segment.read_bytes())
    image[next(iter_records(bytes(image))).offset + 64] ^= 0x01
    segment.write_bytes(bytes(image))


def test_a_counter_follows_the_archive_as_it_grows_and_is_acknowledged(tmp_path: Path) -> None:
    queue, root = tmp_path / "queue", tmp_path / "archive"
    root.mkdir()
    write_queue(queue, segments=2, segment_size=SEGMENT_SIZE)
    flip_a_payload_byte(queue / segment_name(0))
    layout = ArchiveLayout(root, "v")
    counter = TotalsReader()
    subprocess.run(archiver_cmd(queue, root, "v", "--once"), check=True, capture_output=True, timeout=60)
    assert counter.totals(layout).losses == loss_counts(layout) == LossCounts(corrupt=1)

    with QueueWriter(queue, segment_size=SEGMENT_SIZE, retention=False) as writer:  # a corrupt segment, next day
        writer.append(b"x" * 200, timestamp_ns=START_NS + 86_400 * 10**9)
        head = writer.current_segment_id
        writer.roll()
    flip_a_payload_byte(queue / segment_name(head))
    (queue / segment_name(1)).unlink(missing_ok=True)  # archived already: gone by retention, no loss
    subprocess.run(archiver_cmd(queue, root, "v", "--once"), check=True, capture_output=True, timeout=60)
    assert counter.totals(layout).losses == loss_counts(layout) == LossCounts(corrupt=2)

    assert acknowledge_losses(layout, parse_selection(str(head)), by="alice", reason=None, now_ns=1) is not None
    assert counter.totals(layout).losses == loss_counts(layout) == LossCounts(corrupt=2, corrupt_acknowledged=1)
    assert loss_counts(layout).unacknowledged == 1
