"""The supervisor's loop: supervisord's news, operator commands, due retries and plugins, one step at a time.

Everything that changes a venue happens on the engine's thread: supervisord's state
changes, scheduled retries, operator commands and reloads never race each other. The
loop only ties the pieces together: `sync` turns supervisord's news into events, each
venue's state machine (`venue`) decides, the engine carries out what it decided,
`commands/` answer operators, and `plugins/` (reader leases) run around it.
supervisord spawns, reaps and logs; the engine decides.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Protocol

from supervisor_app.archive.queue_lock import queue_lock_holder
from supervisor_app.config.model import FleetConfig, VenueConfig
from supervisor_app.errors import SupervisordError
from supervisor_app.heap import trim_heap
from supervisor_app.supervision.commands import (
    Command,
    Reload,
    Reply,
    Restart,
    Shutdown,
    Start,
    Status,
    Stop,
    answer,
)
from supervisor_app.supervision.commands import reload as reload_command
from supervisor_app.supervision.commands import restart as restart_command
from supervisor_app.supervision.commands import shutdown as shutdown_command
from supervisor_app.supervision.commands import start as start_command
from supervisor_app.supervision.commands import status as status_command
from supervisor_app.supervision.commands import stop as stop_command
from supervisor_app.supervision.pending import Pending, PendingAnswers
from supervisor_app.supervision.plugins import Observer
from supervisor_app.supervision.plugins.archive_watch import ArchiveWatch, VenueWatch
from supervisor_app.supervision.plugins.reader_leases import ReaderLeases
from supervisor_app.supervision.plugins.stall_watchdog import StallWatchdog
from supervisor_app.supervision.render import STDOUT, RenderedFleet, venue_logfile
from supervisor_app.supervision.supervisord.client import ChangeBatch, ProcessInfo
from supervisor_app.supervision.sync import FeedReader
from supervisor_app.supervision.venue import (
    UP,
    Action,
    Adopted,
    Context,
    CountRestart,
    Event,
    Kill,
    Log,
    RemoveGroup,
    SendStop,
    Spawn,
    SpawnFailed,
    StartRequested,
    SwapGroup,
    Tick,
    Venue,
    decide,
)
from supervisor_app.supervision.venue_log import LastErrors, last_error
from supervisor_app.supervision.venue_records import VenueRecords, settings_fingerprint
from supervisor_app.supervision.venue_report import describe

POLL_S = 1.0  # a safety net: supervisord's plugin pokes the engine on every change
SETTLE_MARGIN_S = 15.0  # beyond the stop timeout, how long an operation may take before it is answered anyway
MAX_SILENT_POLLS = 50  # consecutive failed polls of a live supervisord (~10 s) before giving up on it
# Programs per start call. supervisord spawns a call's programs one after another, deaf to
# everything else meanwhile, and the archivers it has just spawned compete with it for the
# CPU: on 2 cores a spawn took ~45 ms, so one call for 256 venues outlasted the client's
# 10 s timeout and `run` gave up. 16 keeps a call near 1 s, and supervisord's loop free.
START_BATCH = 16

_HANDLERS: Mapping[type, Callable[[Any, Any, Future[Reply] | None], None]] = {
    Status: status_command.handle,
    Start: start_command.handle,
    Stop: stop_command.handle,
    Restart: restart_command.handle,
    Reload: reload_command.handle,
    Shutdown: shutdown_command.handle,
}


class Waker(Protocol):
    """What ends the engine's wait (supervision.wakeup.Wakeup, or a stub in tests)."""

    def poke(self) -> None: ...
    def wait(self, timeout_s: float) -> None: ...


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
        records: VenueRecords | None = None,
        watch: ArchiveWatch | None = None,
        supervisord_pid: int | None = None,
        last_errors: LastErrors | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        self._config, self._rendered, self._config_path = config, rendered, config_path
        self._client = client
        self.prepare, self.install = prepare, install
        self._supervisord_alive = supervisord_alive
        self._waker = waker
        self.log = log
        self._clock, self._wall = clock, wall
        self._leases = leases if leases is not None else ReaderLeases(log=log)
        self._watchdog = StallWatchdog()
        self.records = records if records is not None else VenueRecords(None, log=log)
        self._watch = watch
        self._supervisord_pid = supervisord_pid
        self._last_errors = last_errors if last_errors is not None else LastErrors()
        self._observers = tuple(observers)
        self._venues = {v.name: Venue(v) for v in config.enabled_venues}
        self._feed = FeedReader(exit_detail=self._archiver_error)
        self._inbox: queue.SimpleQueue[tuple[Command, Future[Reply] | None]] = queue.SimpleQueue()
        self._pending = PendingAnswers()
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
        trim_heap()  # what the start-up burst freed (a reply per spawn, a snapshot per venue) goes back
        while not self.finished:
            self.step()

    @property
    def finished(self) -> bool:
        return self._finished

    def running_pids(self) -> dict[str, int]:
        """The archivers the engine last knew to be running, by venue."""
        return {v.name: v.pid for v in self._venues.values() if v.pid}

    def start(self) -> None:
        """Learn supervisord's feed, then start every enabled venue, START_BATCH per round trip."""
        self._sync()
        self.log.info("fleet_starting", venues=len(self._venues), config=str(self._config_path))
        names = [name for name in sorted(self._venues) if not self._kept_stopped(name)]
        for name in names:
            self._apply(name, self._decide(name, StartRequested()), spawn=False)
        self._acted = True
        for first in range(0, len(names), START_BATCH):
            error = self._start_batch(names[first : first + START_BATCH])
            if error is not None:
                # A slow supervisord is not a dead one: this batch and the rest are retried by
                # the policy, one by one; whatever it did spawn meanwhile arrives in the feed.
                self.log.warning("start_unanswered", venues=len(names) - first, error=error)
                for name in names[first:]:
                    self.decide(name, SpawnFailed(error))
                return

    def _start_batch(self, names: list[str]) -> str | None:
        """Spawn `names` in one call; why not, if a live supervisord did not answer it."""
        try:
            spawned = self._client.start_many(names)
        except SupervisordError as error:
            if not self._supervisord_alive():
                raise
            return str(error)
        for name, started in zip(names, spawned, strict=True):
            if not started:
                self._adopt(name)
        return None

    def step(self) -> None:
        """Wait for a command or the next poll, then apply news, commands, due retries and plugins."""
        commands = self._receive(self._timeout(self._clock()))
        self._sync()
        for command, future in commands:
            self._dispatch(command, future)
        for name in list(self._venues):
            self.decide(name, Tick())
        if self._acted:
            self._acted = False
            self._sync()
        self._run_plugins()
        self._settle(self._clock())

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

    def _dispatch(self, command: Command, future: Future[Reply] | None) -> None:
        try:
            _HANDLERS[type(command)](self, command, future)
        except SupervisordError as error:
            # A slow supervisord fails this command; one that is gone is noticed by the next sync.
            self.log.error("command_failed", command=type(command).__name__.lower(), error=str(error))
            answer(future, {"ok": False, "error": str(error)})
        except Exception as error:  # one bad command must not end the supervision of every venue
            self.log.exception("command_failed", command=type(command).__name__.lower())
            answer(future, {"ok": False, "error": f"internal error: {error!r}"})

    def _run_plugins(self) -> None:
        """Hung archivers are killed; a venue whose archiver is not running (stopping, hung) keeps its reader leased."""
        for name, stalled in list(self._watchdog.check(self._venues, self._wall())):
            self.decide(name, stalled)
        self._leases.hold(v.config for v in self._venues.values() if v.phase not in UP or v.stalled_for_s is not None)
        for observer in self._observers:
            observer.on_step(self)

    def archive_snapshot(self) -> Mapping[str, VenueWatch]:
        """What the archive watch last saw of each venue (empty without one)."""
        return self._watch.snapshot() if self._watch is not None else {}

    def _kept_stopped(self, name: str) -> bool:
        """An operator's stop outlives `run` until a start, or until the venue's settings change."""
        fingerprint = self.fingerprint(name)
        if self.records.stopped_by_operator(name, fingerprint):
            self.log.info(
                "kept_stopped", venue=name, reason="stopped by an operator", action=f"chronicle-fleet start {name}"
            )
            return True
        self.records.released(name)
        return False

    def fingerprint(self, name: str) -> str:
        """A digest of what reaches this venue's archiver: a change releases an operator's stop."""
        return settings_fingerprint(self._rendered.programs[name])

    # ---- supervisord's news --------------------------------------------------------

    def _sync(self) -> None:
        """Apply what changed in supervisord since the last look."""
        try:
            batch = self._client.changes(self._feed.serial)
        except SupervisordError as error:
            self._supervisord_trouble(error)
            return
        self._failed_polls = 0
        news = self._feed.news(batch, self._venues, self._client.processes, self._wall())
        if news.resynchronised:
            self.log.warning("state_changes_lost", action="resynchronising from supervisord")
        for name, spawn_error in news.spawn_errors:
            self.log.warning("spawn_failed", venue=name, error=spawn_error)
        for name, event in news.events:
            if name in self._venues:
                self.decide(name, event)

    def _supervisord_trouble(self, error: SupervisordError) -> None:
        if not self._supervisord_alive():
            if self._shutting_down:
                self.log.warning("supervisord_gone", action="finishing the shutdown without it")
                self._finished = True
                return
            raise SupervisordError("supervisord exited unexpectedly") from error
        self._failed_polls += 1
        self.log.warning("supervisord_unanswered", error=str(error), attempt=self._failed_polls)
        if self._failed_polls >= MAX_SILENT_POLLS:
            raise SupervisordError(f"supervisord has not answered for {MAX_SILENT_POLLS} polls") from error

    def _archiver_error(self, name: str) -> str | None:
        logfile = venue_logfile(self._config, name)
        return self._last_errors.take(name) if logfile == STDOUT else last_error(logfile)

    # ---- deciding and acting ---------------------------------------------------------

    def decide(self, name: str, event: Event) -> None:
        """Apply one event to one venue's state machine and carry out what it decides."""
        self._apply(name, self._decide(name, event))

    def _decide(self, name: str, event: Event) -> tuple[Venue | None, tuple[Action, ...]]:
        context = Context(self._config.restart, self._clock(), self._wall(), self._shutting_down)
        return decide(self._venues[name], event, context)

    def _apply(self, name: str, outcome: tuple[Venue | None, tuple[Action, ...]], *, spawn: bool = True) -> None:
        venue, actions = outcome
        if venue is None:
            self._venues.pop(name, None)
        else:
            self._venues[name] = venue
        for action in actions:
            if isinstance(action, Spawn) and not spawn:
                continue  # start() spawns every venue in one round trip
            self._act(name, action)

    # supervisord's news is applied only by the loop's own _sync, in order; acting never
    # syncs, so a change is never applied out of turn. Whatever an action causes (RUNNING,
    # FATAL, STOPPED) arrives through the feed, and the step syncs again right after acting.

    def _act(self, name: str, action: Action) -> None:
        if isinstance(action, Log):
            getattr(self.log, action.level)(action.event, venue=name, **action.fields)
        elif isinstance(action, Spawn):
            self._spawn(name)
        elif isinstance(action, SendStop):
            self._acted = True
            self._client.stop(name)  # False: it was not running, and its end is already in the feed
        elif isinstance(action, Kill):
            self._acted = True
            self._client.signal(name, "KILL")
        elif isinstance(action, CountRestart):
            self.records.count_restart(name, action.reason)
        elif isinstance(action, SwapGroup):
            self._client.remove_group(name)
            self._client.add_group(name)
        elif isinstance(action, RemoveGroup):
            self._client.remove_group(name)
            self.records.forget(name)

    def _spawn(self, name: str) -> None:
        self._acted = True
        try:
            spawned = self._client.start(name)
        except SupervisordError as error:
            if not self._supervisord_alive():
                raise
            self.decide(name, SpawnFailed(str(error)))  # a slow supervisord is not a dead one: retry later
            return
        if not spawned:
            self._adopt(name)  # already running (news we lost), or FATAL follows in the feed

    def _adopt(self, name: str) -> None:
        for info in self._client.processes():
            if info.name == name and info.state == "RUNNING":
                self.decide(name, Adopted(info.pid, info.started_at))

    def add_venue(self, config: VenueConfig) -> None:
        self._client.add_group(config.name)
        self._venues[config.name] = Venue(config)
        self.decide(config.name, StartRequested())

    # ---- what commands see (commands.Fleet) ---------------------------------------------

    @property
    def config(self) -> FleetConfig:
        return self._config

    @property
    def rendered(self) -> RenderedFleet:
        return self._rendered

    @property
    def config_path(self) -> Path:
        return self._config_path

    @property
    def venues(self) -> Mapping[str, Venue]:
        return self._venues

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def begin_shutdown(self) -> None:
        self._shutting_down = True

    def describe(self, venue: Venue) -> Reply:
        archive_root = self._config.archive_root_of(venue.config)
        row = describe(venue, now=self._clock(), wall=self._wall(), archive_root=archive_root)
        row["restarts_by_reason"] = dict(self.records.get(venue.name).restarts)
        watched = self.archive_snapshot().get(venue.name)
        if watched is not None:
            row["archive"] = watched.as_status()
        return row

    def fleet_info(self) -> Reply:
        """Who runs the fleet: for `status`, and for an operator who needs `run`'s pid (kill -HUP)."""
        return {
            "run_pid": os.getpid(),
            "supervisord_pid": self._supervisord_pid,
            "config": str(self._config_path),
            "state_dir": str(self._config.supervisor.state_dir),
        }

    def switch_config(self, config: FleetConfig, rendered: RenderedFleet, path: Path) -> None:
        """Make supervisord read the new file; on failure put the old file back and change nothing."""
        try:
            self._client.reread()
        except SupervisordError:
            self.install(self._config, self._rendered, self._config_path)
            raise
        self._config, self._rendered, self._config_path = config, rendered, path
        if self._watch is not None:
            self._watch.watch(config.archive_root, config.venues)

    def wait_for(self, kind: str, names: tuple[str, ...], future: Future[Reply] | None, **summary: Any) -> None:
        deadline = self._clock() + self._config.supervisor.stop_timeout_s + SETTLE_MARGIN_S
        self._pending.add(Pending(kind, names, future, deadline, summary))

    def _settle(self, now: float) -> None:
        for pending, venues in self._pending.ready(self._venues, now):
            if pending.kind == "shutdown":
                self._finished = True
                unsettled = [v.name for v in venues if not v.settled]
                self.log.info("fleet_stopped", venues=len(venues), unsettled=unsettled)
                continue
            results = [self._result(pending, v) for v in venues]
            answer(pending.future, {"ok": all(r["ok"] for r in results), **pending.summary, "venues": results})

    def _result(self, pending: Pending, venue: Venue) -> Reply:
        """A venue's row in an answer: a stop is not done while any archiver still holds the venue's queue."""
        row = {**self.describe(venue), "ok": pending.ok(venue)}
        if pending.kind == "stop" and venue.phase == "stopped":
            try:
                holder = queue_lock_holder(venue.config.queue_dir, venue.config.archiver.reader_name)
            except OSError:
                holder = None  # no readers/ directory, or none we may read: no archiver holds it
            if holder is not None:
                row["ok"] = False
                row["held_reason"] = f"an archiver still runs on its queue: {holder.describe()}"
        return row
