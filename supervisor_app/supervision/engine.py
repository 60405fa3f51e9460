"""The supervisor's one brain: watches supervisord, applies the restart policy, runs operator commands.

Everything that changes a venue happens on the engine's thread, one step at a time:
supervisord's state changes, scheduled retries, operator commands and reloads never
race each other. supervisord spawns, reaps and logs; the engine decides.
"""

from __future__ import annotations

import datetime as dt
import queue
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from supervisor_app.config.model import FleetConfig, VenueConfig
from supervisor_app.errors import ConfigError, SupervisordError
from supervisor_app.supervision import policy
from supervisor_app.supervision.commands import (
    Command,
    Reload,
    Reply,
    Restart,
    Shutdown,
    Start,
    Status,
    Stop,
)
from supervisor_app.supervision.fleet_diff import diff_fleets
from supervisor_app.supervision.plugins.reader_leases import ReaderLeases
from supervisor_app.supervision.render import STDOUT, RenderedFleet, venue_logfile
from supervisor_app.supervision.supervisord.client import (
    ChangeBatch,
    ProcessChange,
    ProcessInfo,
)
from supervisor_app.supervision.venue_log import last_error

POLL_S = 1.0  # a safety net: supervisord's plugin pokes the engine on every change
SETTLE_MARGIN_S = 15.0  # beyond the stop timeout, how long an operation may take before it is answered anyway
MAX_SILENT_POLLS = 50  # consecutive failed polls of a live supervisord (~10 s) before giving up on it

Phase = Literal["starting", "running", "stopping", "backoff", "held", "stopped"]
AfterStop = Literal["start", "replace", "remove"]
_UP: tuple[Phase, ...] = ("starting", "running")  # a process exists (or is being spawned)
_ENDED = ("EXITED", "STOPPED", "FATAL")


class Waker(Protocol):
    """What ends the engine's wait (fleet.wakeup.Wakeup, or a stub in tests)."""

    def poke(self) -> None: ...
    def wait(self, timeout_s: float) -> None: ...


class Supervisord(Protocol):
    """What the engine needs from supervisord (SupervisordClient, or a fake in tests)."""

    def changes(self, since: int) -> ChangeBatch: ...
    def processes(self) -> list[ProcessInfo]: ...
    def start(self, name: str) -> bool: ...
    def start_many(self, names: list[str]) -> list[bool]: ...
    def stop(self, name: str) -> bool: ...
    def reread(self) -> tuple[list[str], list[str], list[str]]: ...
    def add_group(self, name: str) -> None: ...
    def remove_group(self, name: str) -> None: ...
    def shutdown(self) -> None: ...


@dataclass(frozen=True)
class Venue:
    """One enabled venue as the engine sees it."""

    config: VenueConfig
    restart: policy.RestartState = field(default_factory=policy.RestartState)
    phase: Phase = "stopped"
    pid: int | None = None
    started_at: float | None = None  # wall clock
    after_stop: AfterStop | None = None  # what to do once the process we are stopping has ended

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def settled(self) -> bool:
        return self.phase not in ("starting", "stopping") and self.after_stop is None


@dataclass(frozen=True)
class _Pending:
    """An operation whose answer waits until its venues have settled."""

    kind: str
    venues: tuple[str, ...]
    future: Future[Reply] | None
    deadline: float
    summary: Mapping[str, Any] = field(default_factory=dict)


def iso(wall: float | None) -> str | None:
    """Wall-clock seconds as ISO-8601 UTC, as in the logs."""
    return None if wall is None else dt.datetime.fromtimestamp(wall, dt.UTC).isoformat()


class Engine:
    """Runs on one thread (run()); other threads talk to it only through submit() and the request_* methods."""

    def __init__(
        self,
        config: FleetConfig,
        rendered: RenderedFleet,
        client: Supervisord,
        *,
        config_path: Path,
        prepare: Callable[[Path], tuple[FleetConfig, RenderedFleet]],
        install: Callable[[FleetConfig, RenderedFleet, Path], object],
        supervisord_alive: Callable[[], bool],
        waker: Waker,
        log: Any,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        leases: ReaderLeases | None = None,
    ) -> None:
        self._config, self._rendered, self._config_path = config, rendered, config_path
        self._leases = leases if leases is not None else ReaderLeases(log=log)
        self._client = client
        self._prepare, self._install = prepare, install
        self._supervisord_alive = supervisord_alive
        self._waker = waker
        self._log = log
        self._clock, self._wall = clock, wall
        self._venues = {v.name: Venue(v) for v in config.enabled_venues}
        self._inbox: queue.SimpleQueue[tuple[Command, Future[Reply] | None]] = queue.SimpleQueue()
        self._pending: list[_Pending] = []
        self._feed: str | None = None
        self._serial = 0
        self._failed_polls = 0
        self._acted = False  # something was started or stopped this step: look at the feed again
        self._shutting_down = False
        self._finished = False

    # ---- other threads -------------------------------------------------------------

    def submit(self, command: Command) -> Future[Reply]:
        """Queue an operator command; the future holds the reply."""
        future: Future[Reply] = Future()
        self._post(command, future)
        return future

    def request_shutdown(self) -> None:
        """Safe from a signal handler: SimpleQueue.put is reentrant, a poke is one sendto."""
        self._post(Shutdown(), None)

    def request_reload(self) -> None:
        """Safe from a signal handler (SIGHUP): reload the config file last loaded."""
        self._post(Reload(None), None)

    def _post(self, command: Command, future: Future[Reply] | None) -> None:
        self._inbox.put((command, future))
        self._waker.poke()

    # ---- the loop ------------------------------------------------------------------

    def run(self) -> None:
        """Start every venue and supervise until a Shutdown has stopped them all (supervisord stays up)."""
        self.start()
        while not self.finished:
            self.step()

    @property
    def finished(self) -> bool:
        return self._finished

    def running_pids(self) -> dict[str, int]:
        """The archivers the engine last knew to be running, by venue."""
        return {v.name: v.pid for v in self._venues.values() if v.pid}

    def start(self) -> None:
        """Learn supervisord's feed, then start every enabled venue."""
        self._sync()
        self._log.info("fleet_starting", venues=len(self._venues), config=str(self._config_path))
        names = sorted(self._venues)
        for name in names:
            self._put(replace(self._venues[name], phase="starting"))
        self._acted = True
        for name, spawned in zip(names, self._client.start_many(names), strict=True):
            if not spawned:
                self._adopt(self._venues[name])

    def step(self) -> None:
        """Wait for a command or the next poll, then apply news, commands, due retries and housekeeping."""
        commands = self._receive(self._timeout(self._clock()))
        self._sync()
        for command, future in commands:
            try:
                self._dispatch(command, future)
            except SupervisordError as error:
                # Only a supervisord that is gone ends the fleet; a slow one fails this command.
                self._supervisord_trouble(error)
                _answer(future, {"ok": False, "error": f"supervisord did not answer: {error}"})
        now = self._clock()
        self._retry_due(now)
        if self._acted:
            self._acted = False
            self._sync()
        self._tick(now)
        self._settle(now)

    def _timeout(self, now: float) -> float:
        retries = [v.restart.next_retry_at for v in self._venues.values() if v.restart.next_retry_at is not None]
        return max(0.0, min([POLL_S, *(at - now for at in retries)]))

    def _receive(self, timeout: float) -> list[tuple[Command, Future[Reply] | None]]:
        """Wait for a poke (a command, or news from supervisord) or the timeout; take every queued command."""
        self._waker.wait(timeout)
        items = []
        while True:
            try:
                items.append(self._inbox.get_nowait())
            except queue.Empty:
                return items

    # ---- supervisord's news --------------------------------------------------------

    def _sync(self) -> None:
        """Apply what changed in supervisord since the last look."""
        try:
            batch = self._client.changes(self._serial)
        except SupervisordError as error:
            self._supervisord_trouble(error)
            return
        self._failed_polls = 0
        if batch.feed != self._feed or not batch.complete:
            if self._feed is not None:
                self._log.warning("state_changes_lost", action="resynchronising from supervisord")
            self._feed, self._serial = batch.feed, batch.serial
            self._resync()
            return
        self._serial = batch.serial
        for change in batch.changes:
            self._apply(change)

    def _supervisord_trouble(self, error: SupervisordError) -> None:
        if not self._supervisord_alive():
            if self._shutting_down:
                self._log.warning("supervisord_gone", action="finishing the shutdown without it")
                self._finished = True
                return
            raise SupervisordError("supervisord exited unexpectedly") from error
        self._failed_polls += 1
        self._log.warning("supervisord_unanswered", error=str(error), attempt=self._failed_polls)
        if self._failed_polls >= MAX_SILENT_POLLS:
            raise SupervisordError(f"supervisord has not answered for {MAX_SILENT_POLLS} polls") from error

    def _resync(self) -> None:
        """Rebuild phases from supervisord's current view when changes were lost."""
        infos = {info.name: info for info in self._client.processes()}
        for name, venue in list(self._venues.items()):
            info = infos.get(name)
            if info is None:
                continue
            if info.state in ("STARTING", "RUNNING"):
                phase: Phase = "stopping" if venue.phase == "stopping" else "running"
                self._put(replace(venue, phase=phase, pid=info.pid, started_at=info.started_at))
            elif venue.phase in (*_UP, "stopping"):
                change = ProcessChange(
                    0, name, info.state, "", venue.pid or 0, info.started_at, self._wall(), info.exitstatus
                )
                self._on_ended(venue, change)

    def _apply(self, change: ProcessChange) -> None:
        venue = self._venues.get(change.name)
        if venue is None:
            return
        if change.state == "RUNNING":
            self._on_running(venue, change)
        elif change.state == "BACKOFF":
            self._log.warning("spawn_failed", venue=venue.name, error=change.spawnerr)
        elif change.state in _ENDED and self._is_current(venue, change):
            self._on_ended(venue, change)

    @staticmethod
    def _is_current(venue: Venue, change: ProcessChange) -> bool:
        """An end belongs to the process we know of, not to an older one already accounted for."""
        if venue.phase not in (*_UP, "stopping"):
            return False
        return not (venue.pid and change.pid and change.pid != venue.pid)

    def _on_running(self, venue: Venue, change: ProcessChange) -> None:
        phase: Phase = "stopping" if venue.phase == "stopping" else "running"
        self._put(replace(venue, phase=phase, pid=change.pid, started_at=change.started_at))
        self._log.info(
            "spawned",
            venue=venue.name,
            child_pid=change.pid,
            restarts=venue.restart.restarts,
            started_at=iso(change.started_at),
        )

    def _on_ended(self, venue: Venue, change: ProcessChange) -> None:
        report = self._exit_report(change)
        if venue.phase == "stopping" or self._shutting_down or change.state == "STOPPED":
            self._stopped(venue, report)
        else:
            self._crashed(venue, report)

    def _exit_report(self, change: ProcessChange) -> policy.ExitReport:
        if change.state == "FATAL":
            return policy.ExitReport(
                None, at=change.time, spawn_error=change.spawnerr or "supervisord could not spawn it"
            )
        signaled = change.exitstatus is None or change.exitstatus < 0  # supervisord's -1 = killed by a signal
        ended = change.stopped_at if change.stopped_at is not None else change.time
        return policy.ExitReport(
            code=None if signaled else change.exitstatus,
            signal=change.signal if signaled else None,
            ran_for_s=max(0.0, round(ended - change.started_at, 3)) if change.started_at else 0.0,
            at=change.time,
        )

    def _crashed(self, venue: Venue, report: policy.ExitReport) -> None:
        """The archiver ended without being asked to: the policy decides what happens next."""
        if report.permanent:
            report = replace(report, detail=self._archiver_error(venue))
        restart, decision = policy.on_exit(self._config.restart, venue.restart, report, self._clock())
        self._log.warning("exited", venue=venue.name, expected=False, **_exit_fields(venue, report))
        if isinstance(decision, policy.Hold):
            self._put(replace(venue, phase="held", restart=restart, pid=None, started_at=None))
            self._log.error(
                "held",
                venue=venue.name,
                reason=decision.reason,
                action=f"fix the cause, then: chronicle-fleet start {venue.name}",
            )
            return
        self._put(replace(venue, phase="backoff", restart=restart, pid=None, started_at=None))
        retry_wall = self._wall() + decision.delay_s
        self._log.info(
            "restart_scheduled",
            venue=venue.name,
            delay_s=decision.delay_s,
            attempt=decision.attempt,
            retry_at=iso(retry_wall),
        )

    def _archiver_error(self, venue: Venue) -> str | None:
        logfile = venue_logfile(self._config, venue.name)
        return None if logfile == STDOUT else last_error(logfile)

    def _stopped(self, venue: Venue, report: policy.ExitReport) -> None:
        """A stop we (or an operator through supervisord) asked for has finished; do what was waiting on it."""
        self._log.info("stopped", venue=venue.name, expected=True, **_exit_fields(venue, report))
        then = venue.after_stop
        venue = self._put(
            replace(
                venue,
                phase="stopped",
                pid=None,
                started_at=None,
                after_stop=None,
                restart=policy.operator_stopped(venue.restart),
            )
        )
        if self._shutting_down or then is None:
            return
        if then == "remove":
            self._client.remove_group(venue.name)
            del self._venues[venue.name]
            self._log.info("removed", venue=venue.name)
            return
        if then == "replace":
            self._swap_group(venue.name)
        self._put(replace(venue, restart=policy.operator_started(venue.restart)))
        self._spawn(venue.name)

    def _swap_group(self, name: str) -> None:
        """supervisord keeps a program's old settings until its group is removed and added again."""
        self._client.remove_group(name)
        self._client.add_group(name)

    # ---- acting ---------------------------------------------------------------------

    def _put(self, venue: Venue) -> Venue:
        self._venues[venue.name] = venue
        return venue

    # supervisord's news is applied only by the loop's own _sync, in order; acting never
    # syncs, so a change is never applied out of turn. Whatever an action causes (RUNNING,
    # FATAL, STOPPED) arrives through the feed, and the step syncs again right after acting.

    def _spawn(self, name: str) -> None:
        self._put(replace(self._venues[name], phase="starting", pid=None, started_at=None))
        self._acted = True
        try:
            spawned = self._client.start(name)
        except SupervisordError as error:
            if not self._supervisord_alive():
                raise
            # A slow supervisord is not a dead one: retry this venue later, as after a crash.
            report = policy.ExitReport(
                None, at=self._wall(), spawn_error=f"supervisord did not answer the start: {error}"
            )
            self._crashed(self._venues[name], report)
            return
        if not spawned:
            # Already running (news we lost) or the spawn failed (FATAL follows in the feed).
            self._adopt(self._venues[name])

    def _adopt(self, venue: Venue) -> None:
        for info in self._client.processes():
            if info.name == venue.name and info.state == "RUNNING":
                self._put(replace(venue, phase="running", pid=info.pid, started_at=info.started_at))

    def _send_stop(self, name: str) -> None:
        # False means it was not running: its end is already waiting in the feed.
        self._acted = True
        self._client.stop(name)

    def _begin_stop(self, name: str, then: AfterStop | None) -> None:
        """Stop the venue's process, or change what follows a stop already under way."""
        venue = self._venues[name]
        if venue.phase == "stopping":
            self._put(replace(venue, after_stop=then))
            return
        self._put(replace(venue, phase="stopping", after_stop=then))
        self._send_stop(name)

    def _retry_due(self, now: float) -> None:
        for venue in list(self._venues.values()):
            if venue.phase == "backoff" and policy.is_due(venue.restart, now):
                self._put(replace(venue, restart=policy.retry_started(venue.restart)))
                self._log.info("restarting", venue=venue.name, attempt=venue.restart.failures)
                self._spawn(venue.name)

    def _tick(self, now: float) -> None:
        """Per-venue housekeeping each step: healthy runs reset the backoff; idle venues keep their lease.

        A venue that is stopping is leased too: a hung archiver may take the whole stop
        timeout to go, and its reader must not go stale meanwhile (position updates are
        flocked, so the lease never moves it back)."""
        self._leases.hold(v.config for v in self._venues.values() if v.phase not in _UP)
        wall = self._wall()
        for venue in list(self._venues.values()):
            if venue.phase == "running" and venue.started_at:
                restart = policy.running_healthy(self._config.restart, venue.restart, wall - venue.started_at)
                if restart != venue.restart:
                    self._put(replace(venue, restart=restart))
                    self._log.info("backoff_reset", venue=venue.name, running_for_s=round(wall - venue.started_at, 1))

    # ---- commands -------------------------------------------------------------------

    def _dispatch(self, command: Command, future: Future[Reply] | None) -> None:
        handlers: dict[type, Callable[[Any, Future[Reply] | None], None]] = {
            Status: self._status,
            Start: self._operate,
            Stop: self._operate,
            Restart: self._operate,
            Reload: self._reload,
            Shutdown: self._shutdown,
        }
        try:
            handlers[type(command)](command, future)
        except SupervisordError as error:
            self._log.error("command_failed", command=type(command).__name__.lower(), error=str(error))
            _answer(future, {"ok": False, "error": str(error)})
        except Exception as error:  # one bad command must not end the supervision of every venue
            self._log.exception("command_failed", command=type(command).__name__.lower())
            _answer(future, {"ok": False, "error": f"internal error: {error!r}"})

    def _status(self, _: Status, future: Future[Reply] | None) -> None:
        _answer(future, {"ok": True, "venues": [self._describe(self._venues[name]) for name in sorted(self._venues)]})

    def _operate(self, command: Start | Stop | Restart, future: Future[Reply] | None) -> None:
        names = tuple(dict.fromkeys(command.venues))
        problem = self._refusal(names)
        if problem:
            _answer(future, {"ok": False, "error": problem})
            return
        kind = type(command).__name__.lower()
        act = {"start": self._start_venue, "stop": self._stop_venue, "restart": self._restart_venue}[kind]
        self._log.info(f"{kind}_requested", venues=list(names))
        for name in names:
            act(name)
        self._wait_for(kind, names, future)

    def _refusal(self, names: tuple[str, ...]) -> str | None:
        if self._shutting_down:
            return "the fleet is shutting down"
        for name in names:
            if name not in self._venues:
                disabled = any(v.name == name and not v.enabled for v in self._config.venues)
                known = ", ".join(sorted(self._venues)) or "none"
                return (
                    f"venue {name!r} is disabled in the config"
                    if disabled
                    else f"unknown venue {name!r} (enabled venues: {known})"
                )
        return None

    def _start_venue(self, name: str) -> None:
        venue = self._venues[name]
        if venue.phase in _UP:
            return
        if venue.phase == "stopping":
            self._put(replace(venue, after_stop="start"))
            return
        self._put(replace(venue, restart=policy.operator_started(venue.restart)))
        self._spawn(name)

    def _stop_venue(self, name: str) -> None:
        venue = self._venues[name]
        if venue.phase in (*_UP, "stopping"):
            self._begin_stop(name, None)
        elif venue.phase in ("backoff", "held"):
            # Cancels the scheduled retry, or replaces the hold with an operator stop.
            self._put(replace(venue, phase="stopped", restart=policy.operator_stopped(venue.restart)))
            self._log.info("stopped", venue=name, expected=True, was=venue.phase)

    def _restart_venue(self, name: str) -> None:
        if self._venues[name].phase in (*_UP, "stopping"):
            self._begin_stop(name, "start")
        else:
            self._start_venue(name)

    def _wait_for(self, kind: str, names: tuple[str, ...], future: Future[Reply] | None, **summary: Any) -> None:
        deadline = self._clock() + self._config.supervisor.stop_timeout_s + SETTLE_MARGIN_S
        self._pending.append(_Pending(kind, names, future, deadline, summary))

    def _settle(self, now: float) -> None:
        waiting = []
        for pending in self._pending:
            venues = [self._venues[n] for n in pending.venues if n in self._venues]
            if all(v.settled for v in venues) or now > pending.deadline:
                self._answer_pending(pending, venues)
            else:
                waiting.append(pending)
        self._pending = waiting

    def _answer_pending(self, pending: _Pending, venues: list[Venue]) -> None:
        if pending.kind == "shutdown":
            self._finished = True
            self._log.info("fleet_stopped", venues=len(venues), unsettled=[v.name for v in venues if not v.settled])
            return
        wanted: Phase | None = {"start": "running", "restart": "running", "stop": "stopped"}.get(pending.kind)
        results = [{**self._describe(v), "ok": wanted is None or v.phase == wanted} for v in venues]
        _answer(pending.future, {"ok": all(r["ok"] for r in results), **pending.summary, "venues": results})

    def _describe(self, venue: Venue) -> dict[str, Any]:
        wall, now = self._wall(), self._clock()
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
            },
            "next_retry_at": None if retry_at is None else iso(wall + retry_at - now),
            "next_retry_in_s": None if retry_at is None else round(max(0.0, retry_at - now), 2),
            "held_reason": venue.restart.held_reason,
            # Where to look for the archive's progress; the client reads it, not this thread.
            "queue_dir": str(venue.config.queue_dir),
            "reader_name": venue.config.archiver.reader_name,
            "archive_root": str(self._config.archive_root),
        }

    # ---- reload -----------------------------------------------------------------------

    def _reload(self, command: Reload, future: Future[Reply] | None) -> None:
        if self._shutting_down:
            _answer(future, {"ok": False, "error": "the fleet is shutting down"})
            return
        path = command.path or self._config_path
        try:
            config, rendered = self._prepare(path)
            self._same_state_dir(config)
            self._install(config, rendered, path)
        except OSError as error:
            self._log.error("reload_rejected", config=str(path), error=str(error))
            _answer(future, {"ok": False, "error": str(error)})
            return
        except ConfigError as error:
            problems = [str(p) for p in error.problems]
            self._log.error("reload_rejected", config=str(path), error=str(error).splitlines()[0], problems=problems)
            _answer(future, {"ok": False, "error": str(error).splitlines()[0], "problems": problems})
            return
        diff = diff_fleets(self._config, self._rendered, config, rendered)
        self._reread(config, rendered, path)
        for name in diff.removed:
            self._remove(name)
        for name in diff.changed:
            self._replace(config.venue(name))
        for name in diff.added:
            self._add(config.venue(name))
        summary = {
            "added": list(diff.added),
            "changed": list(diff.changed),
            "removed": list(diff.removed),
            "unchanged": list(diff.unchanged),
        }
        self._log.info("reloaded", config=str(path), **summary)
        self._wait_for("reload", diff.touched, future, **summary)

    def _same_state_dir(self, config: FleetConfig) -> None:
        if config.supervisor.state_dir != self._config.supervisor.state_dir:
            message = f"supervisor.state_dir cannot change while the fleet runs ({self._config.supervisor.state_dir} -> {config.supervisor.state_dir}); restart the service instead"
            raise ConfigError(message, [message])

    def _reread(self, config: FleetConfig, rendered: RenderedFleet, path: Path) -> None:
        """Make supervisord read the new file; on failure put the old file back and change nothing."""
        try:
            self._client.reread()
        except SupervisordError:
            self._install(self._config, self._rendered, self._config_path)
            raise
        self._config, self._rendered, self._config_path = config, rendered, path

    def _remove(self, name: str) -> None:
        venue = self._venues[name]
        if venue.phase in (*_UP, "stopping"):
            self._begin_stop(name, "remove")
            return
        self._client.remove_group(name)
        del self._venues[name]
        self._log.info("removed", venue=name)

    def _replace(self, config: VenueConfig) -> None:
        """A changed venue starts over: new settings, a fresh policy (a hold is released), a new process."""
        venue = self._venues[config.name]
        fresh = policy.RestartState(restarts=venue.restart.restarts)
        venue = self._put(replace(venue, config=config, restart=fresh))
        if venue.phase in (*_UP, "stopping"):
            self._begin_stop(venue.name, "replace")
            return
        self._swap_group(venue.name)
        self._spawn(venue.name)

    def _add(self, config: VenueConfig) -> None:
        self._client.add_group(config.name)
        self._put(Venue(config))
        self._spawn(config.name)

    # ---- shutdown ---------------------------------------------------------------------

    def _shutdown(self, _: Shutdown, future: Future[Reply] | None) -> None:
        if self._shutting_down:
            return
        self._shutting_down = True
        self._log.info("fleet_stopping", venues=len(self._venues))
        for venue in list(self._venues.values()):
            if venue.phase in (*_UP, "stopping"):
                self._begin_stop(venue.name, None)
            elif venue.phase in ("backoff", "held"):
                self._put(replace(venue, phase="stopped", restart=policy.operator_stopped(venue.restart)))
        self._wait_for("shutdown", tuple(self._venues), future)


def _exit_fields(venue: Venue, report: policy.ExitReport) -> dict[str, Any]:
    return {
        "child_pid": venue.pid,
        "exit_code": report.code,
        "signal": report.signal,
        "ran_for_s": report.ran_for_s,
        "ended_at": iso(report.at),
        "how": report.describe(),
    }


def _answer(future: Future[Reply] | None, reply: Reply) -> None:
    if future is not None and not future.done():
        future.set_result(reply)
