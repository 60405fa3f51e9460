"""The stall watchdog: a running archiver whose reader heartbeat has gone stale is hung, and is killed.

A SIGSTOPped archiver, or one stuck for good in a hung NFS write, stays `running` in
supervisord's eyes while the writer's retention, 30 s after its last heartbeat, deletes
everything it has not archived. The archiver beats only while its main loop is alive
(see archive/reader_lease.py), so a stale heartbeat means a stuck loop. Past the venue's
stall_timeout the engine leases the reader (the position never moves), kills the
process and restarts it through the restart policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

from supervisor_app.chronicle.reader_position import load_position, position_path
from supervisor_app.errors import ChronicleFleetError
from supervisor_app.supervision.venue import Stalled, Venue

CHECK_INTERVAL_S = 1.0  # how often position files are read (the engine may step more often)


class StallWatchdog:
    """Reads each running archiver's reader heartbeat, at most once per CHECK_INTERVAL_S."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._last_check: float | None = None

    def check(self, venues: Mapping[str, Venue], wall: float) -> Iterator[tuple[str, Stalled]]:
        """A Stalled event for each running venue whose heartbeat (or start) is older than its stall timeout."""
        now = self._monotonic()
        if self._last_check is not None and now - self._last_check < CHECK_INTERVAL_S:
            return
        self._last_check = now
        for name, venue in venues.items():
            if venue.phase != "running" or venue.stalled_for_s is not None or venue.started_at is None:
                continue
            heartbeat = _heartbeat_s(venue)
            if heartbeat is None:
                continue  # no reader registered yet (the queue is missing: another watch reports that)
            # A process started after its last beat gets the whole timeout to beat for the first time.
            if wall - max(heartbeat, venue.started_at) > venue.config.archiver.stall_timeout_s:
                yield name, Stalled(heartbeat_age_s=wall - heartbeat)


def _heartbeat_s(venue: Venue) -> float | None:
    """The reader's last heartbeat (wall-clock seconds), or None when there is none to judge."""
    try:
        position = load_position(position_path(venue.config.queue_dir, venue.config.archiver.reader_name))
    except (OSError, ChronicleFleetError):
        return None  # unreadable: the archiver itself fails on it and says why
    return position.heartbeat_ns / 1e9 if position.heartbeat_ns else None
