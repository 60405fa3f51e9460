"""Status rows enriched with each venue's archive progress: lag, heartbeat age, last archived, risks."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from pathlib import Path
from typing import Any

from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.progress import archive_progress
from supervisor_app.errors import ChronicleFleetError


def with_archive_progress(venues: list[dict[str, Any]], now_ns: int) -> list[dict[str, Any]]:
    """Add an "archive" mapping to each status row (read from the queue and the archive, never written)."""
    return [{**venue, "archive": _progress(venue, now_ns)} for venue in venues]


def _progress(venue: dict[str, Any], now_ns: int) -> dict[str, Any]:
    try:
        progress = archive_progress(
            Path(venue["queue_dir"]),
            venue["reader_name"],
            ArchiveLayout(Path(venue["archive_root"]), venue["venue"]),
            now_ns,
        )
    except (OSError, ChronicleFleetError) as error:
        return {"error": str(error), "risks": [f"progress unreadable: {error}"]}
    data = asdict(progress)
    data["risks"] = list(progress.risks)
    at = progress.last_archived_at_ns
    data["last_archived_at"] = (
        None if at is None else dt.datetime.fromtimestamp(at / 1e9, tz=dt.UTC).isoformat(timespec="seconds")
    )
    return data
