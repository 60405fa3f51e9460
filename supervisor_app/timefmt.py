"""The one way times are written in logs, status and metadata: ISO-8601 UTC with a `Z`."""

from __future__ import annotations

import math
import time


def iso_utc(seconds: float) -> str:
    """Wall-clock seconds as e.g. `2026-01-24T00:00:01.250000Z` (microseconds, as log timestamps).

    As datetime would write it, without datetime: every log line of an idle archiver goes through here.
    """
    fraction, whole = math.modf(seconds)
    micros = round(fraction * 1_000_000)  # half to even, as datetime.fromtimestamp rounds
    if micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    elif micros == 1_000_000:
        whole, micros = whole + 1, 0
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(whole))}.{micros:06d}Z"
