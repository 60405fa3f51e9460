"""The demo's synthetic feed: its ledger of sealed segments, against which the demo checks the archive."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from supervisor_app.chronicle.reader_position import ReaderPosition, register_reader
from supervisor_app.chronicle.segment import read_segment_header
from supervisor_app.demo.feed import run_feed

SEGMENT_SIZE = 64 * 1024


def ledger_entries(ledger: Path) -> list[dict]:
    return [json.loads(line) for line in ledger.read_text().splitlines()] if ledger.exists() else []


def test_every_sealed_segment_is_in_the_ledger_before_retention_deletes_it(tmp_path: Path) -> None:
    queue, ledger = tmp_path / "queue", tmp_path / "sealed.jsonl"
    queue.mkdir()
    # A reader already past everything, as an archiver faster than the feed's own read-back can be:
    # the writer's retention may delete each segment as soon as it is sealed.
    register_reader(queue, "raw-archiver", ReaderPosition(segment_id=1_000_000))
    stop = threading.Event()
    feed = threading.Thread(
        target=run_feed,
        args=(queue, ledger),
        kwargs={"segment_size": SEGMENT_SIZE, "rate": 20_000, "symbol": "BTCUSDT", "stop": stop},
    )
    feed.start()
    deadline = time.monotonic() + 30
    try:
        while len(ledger_entries(ledger)) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        feed.join(30)

    entries = ledger_entries(ledger)
    ids = [e["segment_id"] for e in entries]
    assert len(ids) >= 4 and ids == list(range(len(ids)))  # none missing, the last one sealed on stop
    assert all(e["size"] == SEGMENT_SIZE for e in entries)
    # Retention still ran: every sealed segment is gone from the queue.
    assert not [p for p in queue.glob("*.q") if read_segment_header(p).sealed]
