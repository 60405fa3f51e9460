"""supervisord's news as venue events: the plugin's change feed, or a fresh look when changes were lost."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from supervisor_app.supervision import policy
from supervisor_app.supervision.supervisord.client import ChangeBatch, ProcessChange, ProcessInfo
from supervisor_app.supervision.venue import Adopted, Ended, Event, Spawned, Venue

_ENDED = ("EXITED", "STOPPED", "FATAL")
_ALIVE = ("STARTING", "RUNNING")


@dataclass(frozen=True)
class News:
    """What happened since the last look: per-venue events, and spawn troubles worth a log line."""

    events: tuple[tuple[str, Event], ...]
    spawn_errors: tuple[tuple[str, str], ...] = ()
    resynchronised: bool = False


class FeedReader:
    """Follows the plugin's numbered feed; a new feed (supervisord restarted) or a gap means a fresh look."""

    def __init__(self, *, exit_detail: Callable[[str], str | None]) -> None:
        self._feed: str | None = None
        self._serial = 0
        self._exit_detail = exit_detail  # the archiver's own last error, to explain a hold or a backoff

    @property
    def serial(self) -> int:
        return self._serial

    def news(
        self,
        batch: ChangeBatch,
        venues: Mapping[str, Venue],
        processes: Callable[[], list[ProcessInfo]],
        wall: float,
    ) -> News:
        """Turn a batch from the feed into events; `processes` is asked only when changes were lost."""
        if batch.feed != self._feed or not batch.complete:
            lost = self._feed is not None
            self._feed, self._serial = batch.feed, batch.serial
            return News(self._resync(venues, processes(), wall), resynchronised=lost)
        self._serial = batch.serial
        events: list[tuple[str, Event]] = []
        spawn_errors: list[tuple[str, str]] = []
        for change in batch.changes:
            if change.state == "RUNNING":
                events.append((change.name, Spawned(change.pid, change.started_at)))
            elif change.state == "BACKOFF":
                spawn_errors.append((change.name, change.spawnerr or ""))
            elif change.state in _ENDED:
                events.append((change.name, self._ended(change)))
        return News(tuple(events), tuple(spawn_errors))

    def _resync(
        self, venues: Mapping[str, Venue], infos: list[ProcessInfo], wall: float
    ) -> tuple[tuple[str, Event], ...]:
        """Events that bring each venue in line with supervisord's current view."""
        by_name = {info.name: info for info in infos}
        events: list[tuple[str, Event]] = []
        for name, venue in venues.items():
            info = by_name.get(name)
            if info is None:
                continue
            if info.state in _ALIVE:
                events.append((name, Adopted(info.pid, info.started_at)))
            elif venue.has_process:
                change = ProcessChange(0, name, info.state, "", venue.pid or 0, info.started_at, wall, info.exitstatus)
                events.append((name, self._ended(change)))
        return tuple(events)

    def _ended(self, change: ProcessChange) -> Ended:
        report = exit_report(change)
        if report.code:  # an archiver that exits non-zero has said why at error level
            report = replace(report, detail=self._exit_detail(change.name))
        return Ended(report, pid=change.pid, stopped=change.state == "STOPPED")


def exit_report(change: ProcessChange) -> policy.ExitReport:
    """How a run ended, from supervisord's change: a code, a signal, or a spawn that failed."""
    if change.state == "FATAL":
        return policy.ExitReport(None, at=change.time, spawn_error=change.spawnerr or "supervisord could not spawn it")
    signaled = change.exitstatus is None or change.exitstatus < 0  # supervisord's -1 = killed by a signal
    ended = change.stopped_at if change.stopped_at is not None else change.time
    return policy.ExitReport(
        code=None if signaled else change.exitstatus,
        signal=change.signal if signaled else None,
        ran_for_s=max(0.0, round(ended - change.started_at, 3)) if change.started_at else 0.0,
        at=change.time,
    )
