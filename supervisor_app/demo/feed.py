"""A synthetic market-data feed: one venue's queue written at a steady rate, for the demo.

Runs as its own process (`python -m supervisor_app.demo.feed`), as a real feed handler
would, and records the size and CRC-32 of every segment it seals so the demo can check
the archive against its source after retention has deleted the queue files.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
import zlib
from collections.abc import Sequence
from pathlib import Path

from supervisor_app.chronicle.retention import apply_retention
from supervisor_app.chronicle.segment import SEG_DATA_OFFSET, segment_name
from supervisor_app.chronicle.writer import QueueWriter
from supervisor_app.demo.payloads import market_payload

BATCH_INTERVAL_S = 0.02


def record_sealed(ledger: Path, queue: Path, segment_id: int) -> None:
    """Append the sealed segment's size and CRC-32 to the ledger (one JSON line)."""
    try:
        data = (queue / segment_name(segment_id)).read_bytes()
    except FileNotFoundError:
        return  # gone before we could read it: nothing to check it against later
    line = {"segment_id": segment_id, "size": len(data), "crc32": f"{zlib.crc32(data):08x}"}
    with ledger.open("a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


def apply_writer_retention(queue: Path, head_segment_id: int, segment_size: int) -> None:
    """What the writer's roll does with retention on, once the head segment has just been opened."""
    apply_retention(queue, head_segment_id, SEG_DATA_OFFSET, segment_size, time.time_ns())


def run_feed(queue: Path, ledger: Path, *, segment_size: int, rate: int, symbol: str, stop: threading.Event) -> int:
    """Write `rate` messages a second until `stop`; seal the last segment; return the message count."""
    rng = random.Random()
    seq = 0
    # Retention runs here rather than in the writer's roll: there it could delete a sealed segment
    # the archiver had just archived before the ledger read it, leaving an archived segment unchecked.
    with QueueWriter(queue, segment_size=segment_size, retention=False) as writer:
        next_batch = time.monotonic()
        while not stop.is_set():
            current = writer.current_segment_id
            for _ in range(max(1, int(rate * BATCH_INTERVAL_S))):
                writer.append(market_payload(rng, seq, symbol=symbol, ts_ms=time.time_ns() // 1_000_000))
                seq += 1
            if writer.current_segment_id != current:
                for sealed in range(current, writer.current_segment_id):  # a batch may fill more than one
                    record_sealed(ledger, queue, sealed)
                apply_writer_retention(queue, writer.current_segment_id, segment_size)
            next_batch += BATCH_INTERVAL_S
            stop.wait(max(0.0, next_batch - time.monotonic()))
        last = writer.current_segment_id
        writer.roll()  # a feed that stops cleanly seals what it wrote
        record_sealed(ledger, queue, last)
        apply_writer_retention(queue, writer.current_segment_id, segment_size)
    return seq


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m supervisor_app.demo.feed", description="Write a synthetic market-data queue."
    )
    parser.add_argument("--queue", type=Path, required=True)
    parser.add_argument("--ledger", type=Path, required=True, help="JSON lines: size and CRC-32 of each sealed segment")
    parser.add_argument("--segment-size", type=int, default=1024 * 1024)
    parser.add_argument("--rate", type=int, default=2000, help="messages per second")
    parser.add_argument("--symbol", default="BTCUSDT")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run_feed(args.queue, args.ledger, segment_size=args.segment_size, rate=args.rate, symbol=args.symbol, stop=stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
