"""The engine's line to supervisord: its news as venue events, and starts that forgive a slow supervisord.

A supervisord that does not answer is retried (a start comes back as SpawnFailed, a poll
is counted); one that has exited ends `run`, except during a shutdown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from supervisor_app.errors import SupervisordError
from supervisor_app.supervision.supervisord.client import ChangeBatch, ProcessInfo
from supervisor_app.supervision.sync import FeedReader
from supervisor_app.supervision.venue import Venue
from supervisor_app.supervision.venue_events import Adopted, Event, SpawnFailed

MAX_SILENT_POLLS = 50  # consecutive failed polls of a live supervisord (~10 s) before giving up on it

VenueEvents = list[tuple[str, Event]]


class Supervisord(Protocol):
    """What the engine needs from supervisord (SupervisordClient, or a fake in tests)."""

    def changes(self, since: int) -> ChangeBatch: ...
    def processes(self) -> list[ProcessInfo]: ...
    def start(self, name: str) -> bool: ...
    def start_many(self, names: list[str]) -> list[bool]: ...
    def stop(self, name: str) -> bool: ...
    def signal(self, name: str, signal_name: str) -> bool: ...
    def reread(self) -> tuple[list[str], list[str], list[str]]: ...
    def add_group(self, name: str) -> None: ...
    def remove_group(self, name: str) -> None: ...
    def shutdown(self) -> None: ...


class SupervisordLink:
    """Follows supervisord's feed for the engine and starts programs; other calls go to `client` directly."""

    def __init__(
        self,
        client: Supervisord,
        *,
        alive: Callable[[], bool],
        exit_detail: Callable[[str], str | None],
        log: Any,
    ) -> None:
        self.client = client
        self._alive = alive
        self._log = log
        self._feed = FeedReader(exit_detail=exit_detail)
        self._failed_polls = 0

    def news(self, venues: Mapping[str, Venue], wall: float, *, shutting_down: bool) -> VenueEvents | None:
        """What changed in supervisord since the last look; None when it is gone and the shutdown ends without it."""
        try:
            batch = self.client.changes(self._feed.serial)
        except SupervisordError as error:
            return None if self._trouble(error, shutting_down) else []
        self._failed_polls = 0
        news = self._feed.news(batch, venues, self.client.processes, wall)
        if news.resynchronised:
            self._log.warning("state_changes_lost", action="resynchronising from supervisord")
        for name, spawn_error in news.spawn_errors:
            self._log.warning("spawn_failed", venue=name, error=spawn_error)
        return list(news.events)

    def _trouble(self, error: SupervisordError, shutting_down: bool) -> bool:
        """True when supervisord is gone during a shutdown; raises when it is gone otherwise, or silent too long."""
        if not self._alive():
            if shutting_down:
                self._log.warning("supervisord_gone", action="finishing the shutdown without it")
                return True
            raise SupervisordError("supervisord exited unexpectedly") from error
        self._failed_polls += 1
        self._log.warning("supervisord_unanswered", error=str(error), attempt=self._failed_polls)
        if self._failed_polls >= MAX_SILENT_POLLS:
            raise SupervisordError(f"supervisord has not answered for {MAX_SILENT_POLLS} polls") from error
        return False

    def start(self, name: str) -> list[Event]:
        """Spawn one program; what that tells of the venue (a slow supervisord: retry later, as after a crash)."""
        try:
            spawned = self.client.start(name)
        except SupervisordError as error:
            if not self._alive():
                raise
            return [SpawnFailed(str(error))]
        return [] if spawned else self.adopted(name)  # already running (news we lost), or FATAL follows in the feed

    def start_many(self, names: list[str]) -> tuple[VenueEvents, str | None]:
        """Spawn `names` in one call: the venues found already running, and why not if a live supervisord did not answer."""
        try:
            spawned = self.client.start_many(names)
        except SupervisordError as error:
            if not self._alive():
                raise
            return [], str(error)
        events = [
            (name, event) for name, ok in zip(names, spawned, strict=True) if not ok for event in self.adopted(name)
        ]
        return events, None

    def adopted(self, name: str) -> list[Event]:
        """The program's process if supervisord has it running though we had not heard."""
        return [
            Adopted(info.pid, info.started_at)
            for info in self.client.processes()
            if info.name == name and info.state == "RUNNING"
        ]
