"""The one way times are written in logs, status and metadata: ISO-8601 UTC with a `Z`."""

from __future__ import annotations

import datetime as dt


def iso_utc(seconds: float) -> str:
    """Wall-clock seconds as e.g. `2026-01-24T00:00:01.250000Z` (microseconds, as log timestamps)."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
