"""An archiver idle after work refreshes: it re-executes itself in place to give back what the work loaded.

A Python process keeps every module and library page its work touched (zstandard,
metadata code: ~0.5-1.5 MiB) for life; a fresh image of the same command does not. The
pid, the locks (lock_handover.py), the resources and the supervisor stay the same.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from supervisor_app.heap import resident_kib

if TYPE_CHECKING:
    from supervisor_app.archive.reader_lease import ReaderLease
    from supervisor_app.lock_handover import LockHandover

JOINED_THREADS_WAIT_S = 1.0  # a joined thread leaves the kernel within microseconds, on a loaded host later


class RefreshClock:
    """How long the archiver has been idle since its last work, once that is long enough to refresh."""

    def __init__(self, after_s: float | None) -> None:
        self._after_s = after_s  # None: never
        self._worked_at: float | None = None

    def passed(self, archived: int) -> None:
        if archived:
            self._worked_at = time.monotonic()

    def due(self) -> float | None:
        """Seconds idle since the last work, if past the setting; None otherwise (or with no work since)."""
        if self._after_s is None or self._worked_at is None:
            return None
        idle_s = time.monotonic() - self._worked_at
        return idle_s if idle_s >= self._after_s else None

    def reset(self) -> None:
        """No refresh until the next work."""
        self._worked_at = None


def refresh_in_place(
    handover: LockHandover, lease: ReaderLease | None, log: Any, idle_s: float, stop: threading.Event
) -> None:
    """Re-exec this process as a fresh archiver; returns only if it could not (logged) or `stop` is set."""
    with lease.without_heartbeat() if lease is not None else nullcontext():
        threads = _threads_after_joins()
        if threads > 1:  # a stop signal sent to another thread during the exec would be lost
            log.info("archiver_refresh_skipped", threads=threads)
            return
        log.info("archiver_refreshing", idle_s=round(idle_s, 1), rss_kib=resident_kib())
        # A stop caught before the exec would be lost with the old image: stop instead.
        error = handover.reexec(stopping=stop.is_set)
    if error is None:
        log.info("archiver_refresh_skipped", reason="stopping")
        return
    log.warning(
        "archiver_refresh_failed",
        error=str(error),
        action="none: it goes on as it is, with the memory its work loaded",
    )


def _threads_after_joins() -> int:
    """This process's kernel threads, once those already joined have left."""
    deadline = time.monotonic() + JOINED_THREADS_WAIT_S
    while (count := len(os.listdir("/proc/self/task"))) > 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    return count
