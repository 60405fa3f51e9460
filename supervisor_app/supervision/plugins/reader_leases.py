"""Reader leases: while a venue's archiver is not running, the supervisor heartbeats for it.

The writer's retention ignores a reader whose heartbeat is older than 30 s and deletes
what it has not consumed. An archiver that is backing off, held after a permanent error,
stopped by an operator, or not yet started after a reboot must not cost the archive its
backlog, so the supervisor keeps the venue's reader fresh without moving its position.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from supervisor_app.archive.reader_lease import HEARTBEAT_INTERVAL_S, refresh_reader
from supervisor_app.config.model import VenueConfig
from supervisor_app.errors import ChronicleFleetError


class ReaderLeases:
    """Heartbeats the readers of the venues it is given, each at most once per interval."""

    def __init__(
        self,
        *,
        log: Any,
        interval_s: float = HEARTBEAT_INTERVAL_S,
        clock: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._interval_s = interval_s
        self._clock = clock
        self._monotonic = monotonic
        self._last_beat: dict[str, float] = {}

    def hold(self, venues: Iterable[VenueConfig]) -> None:
        """Beat for exactly these venues (enabled, archiver not running); release the others."""
        wanted = {v.name: v for v in venues if v.enabled}
        for name in [n for n in self._last_beat if n not in wanted]:
            del self._last_beat[name]
            self._log.info("lease_released", venue=name)
        now = self._monotonic()
        for name, venue in wanted.items():
            last = self._last_beat.get(name)
            if last is None or now - last >= self._interval_s:
                self._beat(venue, first=last is None)
                self._last_beat[name] = now

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._last_beat)

    def _beat(self, venue: VenueConfig, *, first: bool) -> None:
        if not venue.queue_dir.is_dir():
            return  # no queue yet, nothing retention could delete
        try:
            position = refresh_reader(venue.queue_dir, venue.archiver.reader_name, self._clock())
        except (OSError, ChronicleFleetError) as error:
            self._log.warning("lease_failed", venue=venue.name, queue=str(venue.queue_dir), error=str(error))
            return
        if first:
            self._log.info(
                "lease_held", venue=venue.name, segment_id=position.segment_id, reason="archiver not running"
            )
