"""Queues written by the project's writer for archiver tests: JSON-like payloads, fixed clock."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from supervisor_app.chronicle.retention import WRITER_RULE, RetentionRule
from supervisor_app.chronicle.writer import QueueWriter
from supervisor_app.demo.payloads import market_payload

START_NS = 1_769_212_800_000_000_000  # 2026-01-24T00:00Z
LIVE_SEGMENT_SIZE = 64 * 1024


def write_queue(queue: Path, *, segments: int, segment_size: int, seed: int = 7, start_ns: int = START_NS) -> None:
    """Write until `segments` segments are sealed (plus the unsealed current one), a record a millisecond from `start_ns`."""
    rng = random.Random(seed)
    with QueueWriter(queue, segment_size=segment_size, retention=False) as writer:
        seq = 0
        while writer.current_segment_id < segments:
            writer.append(market_payload(rng, seq), timestamp_ns=start_ns + seq * 1_000_000)
            seq += 1


class LiveWriter(threading.Thread):
    """Appends records as fast as a feed would, rolling and running retention on every roll."""

    def __init__(self, queue: Path, *, rule: RetentionRule = WRITER_RULE, pause_s: float = 0.01) -> None:
        super().__init__(daemon=True)
        self.queue = queue
        self.rule = rule
        self.pause_s = pause_s
        self.stop = threading.Event()
        self.sealed: dict[str, bytes] = {}
        self.highest_sealed = -1

    def run(self) -> None:
        rng = random.Random(3)
        with QueueWriter(
            self.queue, segment_size=LIVE_SEGMENT_SIZE, retention=True, retention_rule=self.rule
        ) as writer:
            seq = 0
            while not self.stop.is_set():
                current = writer.current_segment_id
                writer.append(market_payload(rng, seq), timestamp_ns=START_NS + seq * 1_000_000)
                seq += 1
                if writer.current_segment_id != current:
                    self._remember(current)
                    time.sleep(self.pause_s)  # bounds the roll rate
            writer.roll()
            self._remember(writer.current_segment_id - 1)

    def _remember(self, segment_id: int) -> None:
        # Read right after sealing, before retention could delete it once archived.
        path = self.queue / f"{segment_id:09d}.q"
        self.sealed[path.name] = path.read_bytes()
        self.highest_sealed = segment_id
