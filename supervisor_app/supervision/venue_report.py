"""One venue's status row, as `status` and the answers to operator commands show it."""

from __future__ import annotations

from typing import Any

from supervisor_app.archive_root import ArchiveRoot
from supervisor_app.process_limits import applied_limits, format_cpus
from supervisor_app.supervision.venue import Venue, iso


def describe(venue: Venue, *, now: float, wall: float, archive_root: ArchiveRoot) -> dict[str, Any]:
    """The row; `now` is the engine's monotonic clock (retries are scheduled on it), `wall` the time of day."""
    retry_at = venue.restart.next_retry_at
    last = venue.restart.last_exit
    return {
        "venue": venue.name,
        "state": venue.phase,
        "pid": venue.pid,
        "uptime_s": round(wall - venue.started_at, 1) if venue.phase == "running" and venue.started_at else None,
        "restarts": venue.restart.restarts,
        "failures": venue.restart.failures,
        "last_exit": None
        if last is None
        else {
            "code": last.code,
            "signal": last.signal,
            "ran_for_s": last.ran_for_s,
            "at": iso(last.at),
            "description": last.describe(),
            "reason": last.reason,
            "detail": last.detail,
        },
        "next_retry_at": None if retry_at is None else iso(wall + retry_at - now),
        "next_retry_in_s": None if retry_at is None else round(max(0.0, retry_at - now), 2),
        "held_reason": venue.restart.held_reason,
        # Where to look for the archive's progress; the client reads it, not the engine's thread.
        "queue_dir": str(venue.config.queue_dir),
        "reader_name": venue.config.archiver.reader_name,
        "archive_root": str(archive_root),
        "resources": _resources(venue),
    }


def _resources(venue: Venue) -> dict[str, Any]:
    """The archiver's share of the host as configured, and as the kernel reports it for the running archiver."""
    limits = venue.config.archiver.resources
    return {
        "nice": limits.nice,
        "io_class": limits.io_class,
        "io_level": limits.io_level if limits.io_class == "best-effort" else None,
        "cpu_affinity": None if limits.cpu_affinity is None else format_cpus(limits.cpu_affinity),
        "compress_threads": limits.compress_threads,  # None: the cores it may use, at most 4
        "applied": applied_limits(venue.pid) if venue.phase == "running" and venue.pid else None,
    }
