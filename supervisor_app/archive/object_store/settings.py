"""How an archiver talks to an object store (parts, retries): light to import, no botocore."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB  # S3 refuses smaller parts, but the last
MAX_PART_SIZE = 512 * MiB


@dataclass(frozen=True)
class TransferSettings:
    """How an archiver uploads: part size and parts in flight bound its memory; attempts bound a failing call."""

    # 8 MiB parts, 3 in flight: peak RSS under 90 MiB in bench/bench_s3_clients.py at `aws s3 cp`'s throughput.
    part_size: int = 8 * MiB
    parts_in_flight: int = 3
    attempts: int = 8  # per request, with backoff (~25 s in all) before exit 75


@dataclass(frozen=True)
class RetryPolicy:
    """How long a failing store is retried before the call gives up (exit 75)."""

    attempts: int = 8
    first_delay_s: float = 0.25
    max_delay_s: float = 8.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0  # a silent store is retried well before the 60 s liveness window runs out

    def delay_s(self, retry: int, rng: random.Random) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        ceiling = min(self.max_delay_s, self.first_delay_s * 2**retry)
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def keep_awscrt_out() -> None:
    """Make botocore run without awscrt: it imports it whenever installed (+6 MiB RSS) and we use none of it.

    Call before botocore is first imported; it affects the whole process.
    """
    sys.modules.setdefault("awscrt", None)  # type: ignore[arg-type]  # None: `import awscrt` raises ImportError
