"""Queues written by the project's writer for archiver tests: JSON-like payloads, fixed clock."""

from __future__ import annotations

import random
from pathlib import Path

from supervisor_app.chronicle.writer import QueueWriter

START_NS = 1_769_212_800_000_000_000  # 2026-01-24T00:00Z


def market_payload(rng: random.Random, seq: int) -> bytes:
    body = (
        f'{{"e":"trade","s":"BTCUSDT","t":{seq},"p":"{rng.uniform(60000, 70000):.2f}",'
        f'"q":"{rng.uniform(0, 3):.5f}","m":{str(rng.random() < 0.5).lower()}}}'
    ).encode()
    return body + b" " * rng.randint(0, 448)


def write_queue(queue: Path, *, segments: int, segment_size: int, seed: int = 7) -> None:
    """Write until `segments` segments are sealed (plus the unsealed current one)."""
    rng = random.Random(seed)
    with QueueWriter(queue, segment_size=segment_size, retention=False) as writer:
        seq = 0
        while writer.current_segment_id < segments:
            writer.append(market_payload(rng, seq), timestamp_ns=START_NS + seq * 1_000_000)
            seq += 1
