"""Carries out what a venue's state machine decided: supervisord calls, the venue records, the lifecycle log.

supervisord's news is applied only by the engine's own sync, in order; acting never
syncs, so a change is never applied out of turn. Whatever an action causes (RUNNING,
FATAL, STOPPED) arrives through the feed, and the step syncs again right after acting.
"""

from __future__ import annotations

from typing import Any

from supervisor_app.supervision.supervisord_link import SupervisordLink
from supervisor_app.supervision.venue_events import (
    Action,
    CountRestart,
    Event,
    Kill,
    Log,
    RemoveGroup,
    SendStop,
    Spawn,
    SwapGroup,
)
from supervisor_app.supervision.venue_records import VenueRecords


class Actuator:
    """One venue's actions at a time; `acted` says a process was started or stopped since the engine last took it."""

    def __init__(self, link: SupervisordLink, records: VenueRecords, *, log: Any) -> None:
        self._link = link
        self._records = records
        self._log = log
        self.acted = False

    def take_acted(self) -> bool:
        acted, self.acted = self.acted, False
        return acted

    def act(self, name: str, action: Action) -> list[Event]:
        """Carry out `action`; what a spawn tells of the venue comes back as events for its state machine."""
        client = self._link.client
        if isinstance(action, Log):
            getattr(self._log, action.level)(action.event, venue=name, **action.fields)
        elif isinstance(action, Spawn):
            self.acted = True
            return self._link.start(name)
        elif isinstance(action, SendStop):
            self.acted = True
            client.stop(name)  # False: it was not running, and its end is already in the feed
        elif isinstance(action, Kill):
            self.acted = True
            client.signal(name, "KILL")
        elif isinstance(action, CountRestart):
            self._records.count_restart(name, action.reason)
        elif isinstance(action, SwapGroup):
            client.remove_group(name)
            client.add_group(name)
        elif isinstance(action, RemoveGroup):
            client.remove_group(name)
            self._records.forget(name)
        return []
