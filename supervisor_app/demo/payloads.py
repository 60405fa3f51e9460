"""Market-data-like JSON payloads (trades, book updates) for the demo feed, tests and benchmarks."""

from __future__ import annotations

import random
from collections.abc import Iterator

MIN_PAYLOAD = 64
MAX_PAYLOAD = 512


def _trade(rng: random.Random, symbol: str, seq: int, ts_ms: int) -> str:
    return (
        f'{{"e":"trade","E":{ts_ms},"s":"{symbol}","t":{seq},"p":"{rng.uniform(60000, 70000):.2f}",'
        f'"q":"{rng.uniform(0.0001, 3):.5f}","T":{ts_ms},"m":{"true" if rng.random() < 0.5 else "false"}}}'
    )


def _depth(rng: random.Random, symbol: str, seq: int, ts_ms: int) -> str:
    mid = rng.uniform(60000, 70000)
    levels = rng.randint(1, 8)
    bids = ",".join(f'["{mid - i * 0.5:.2f}","{rng.uniform(0, 5):.4f}"]' for i in range(levels))
    asks = ",".join(f'["{mid + i * 0.5:.2f}","{rng.uniform(0, 5):.4f}"]' for i in range(levels))
    return f'{{"e":"depthUpdate","E":{ts_ms},"s":"{symbol}","U":{seq},"u":{seq},"b":[{bids}],"a":[{asks}]}}'


def market_payload(rng: random.Random, seq: int, *, symbol: str = "BTCUSDT", ts_ms: int = 0) -> bytes:
    """One JSON message of 64-512 bytes: a trade or a depth update, sizes spread evenly."""
    make = _trade if rng.random() < 0.4 else _depth
    text = make(rng, symbol, seq, ts_ms)
    target = rng.randint(MIN_PAYLOAD, MAX_PAYLOAD)
    filler = target - len(text) - len(',"c":""')
    if filler > 0:
        # Client order ids: random, so the filler compresses no better than real feeds do.
        text = text[:-1] + ',"c":"' + f"{rng.getrandbits(filler * 4):0{filler}x}"[:filler] + '"}'
    return text.encode()


def market_payloads(rng: random.Random, count: int, *, first_seq: int = 0, symbol: str = "BTCUSDT") -> Iterator[bytes]:
    for seq in range(first_seq, first_seq + count):
        yield market_payload(rng, seq, symbol=symbol, ts_ms=1_769_212_800_000 + seq)
