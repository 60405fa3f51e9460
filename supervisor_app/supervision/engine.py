"""The supervisor's loop: supervisord's news, operator commands, due retries and plugins, one step at a time.

Everything that changes a venue happens on the engine's thread: supervisord's state
changes, scheduled retries, operator commands and reloads never race each other. The
loop only ties the pieces together: `sync` turns supervisord's news into events, each
venue's state machine (`venue`) decides, `actuator` carries out what it decided,
`commands/` answer operators, and `plugins/` (reader leases) run around it.
supervisord spawns, reaps and logs; the engine decides.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from supervisor_app.config.model import FleetConfig, VenueConfig
from supervisor_app.errors import SupervisordError
from supervisor_app.heap import trim_heap
from supervisor_app.supervision.actuator import Actuator
from supervisor_app.supervision.commands import (
    Command,
    Reload,
    Reply,
    Shutdown,
    answer,
)
from supervisor_app.supervision.commands.dispatch import dispatch
from supervisor_app.supervision.inbox import Inbox, Waker
from supervisor_app.supervision.pending import Pending, PendingAnswers
from supervisor_app.supervision.plugins import Observer
from supervisor_app.supervision.plugins.archive_watch import ArchiveWatch, VenueWatch
from supervisor_app.supervision.plugins.reader_leases import ReaderLeases
from supervisor_app.supervision.plugins.stall_watchdog import StallWatchdog
from supervisor_app.supervision.render import STDOUT, RenderedFleet, venue_logfile
from supervisor_app.supervision.supervisord_link import Supervisord, SupervisordLink
from supervisor_app.supervision.venue import (
    UP,
    Action,
    Context,
    Event,
    Spawn,
    SpawnFailed,
    StartRequested,
    Tick,
    Venue,
    decide,
)
from supervisor_app.supervision.venue_log import LastErrors, last_error
from supervisor_app.supervision.venue_records import VenueRecords, settings_fingerprint
from supervisor_app.supervision.venue_report import describe

POLL_S = 1.0  # a safety net: supervisord's plugin pokes the engine on every change
SETTLE_MARGIN_S = 15.0  # beyond the stop timeout, how long an operation may take before it is answered anyway
# Programs per start call. supervisord spawns a call's programs one after another, deaf to
# everything else meanwhile, and the archivers it has just spawned compete with it for the
# CPU: on 2 cores a spawn took ~45 ms, so one call for 256 venues outlasted the client's
# 10 s timeout and `run` gave up. 16 keeps a call near 1 s, and supervisord's loop free.
START_BATCH = 16


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
        self.prepare, self.install = prepare, install
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
        self._link = SupervisordLink(client, alive=supervisord_alive, exit_detail=self._archiver_error, log=log)
        self._client = client
        self._inbox = Inbox(waker)
        self._pending = PendingAnswers()
        self._actuator = Actuator(self._link, self.records, log=log)
        self._shutting_down = False
        self._finished = False

    # ---- other threads -------------------------------------------------------------

    def submit(self, command: Command) -> Future[Reply]:
        """Queue an operator command; the future holds the reply."""
        future: Future[Reply] = Future()
        self._inbox.post(command, future)
        return future

    def request_shutdown(self) -> None:
        """Safe from a signal handler: SimpleQueue.put is reentrant, a poke is one sendto."""
        self._inbox.post(Shutdown(), None)

    def request_reload(self) -> None:
        """Safe from a signal handler (SIGHUP): reload the config file last loaded."""
        self._inbox.post(Reload(None), None)

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
        names = [name for name in sorted(self._venues) if not self.records.kept_stopped(name, self.fingerprint(name))]
        for name in names:
            self._apply(name, self._decide(name, StartRequested()), spawn=False)
        self._actuator.acted = True
        for first in range(0, len(names), START_BATCH):
            adopted, error = self._link.start_many(names[first : first + START_BATCH])
            for name, event in adopted:
                self.decide(name, event)
            if error is not None:
                # A slow supervisord is not a dead one: this batch and the rest are retried by
                # the policy, one by one; whatever it did spawn meanwhile arrives in the feed.
                self.log.warning("start_unanswered", venues=len(names) - first, error=error)
                for name in names[first:]:
                    self.decide(name, SpawnFailed(error))
                return

    def step(self) -> None:
        """Wait for a command or the next poll, then apply news, commands, due retries and plugins."""
        commands = self._inbox.receive(self._timeout(self._clock()))
        self._sync()
        for command, future in commands:
            dispatch(self, command, future)
        for name in list(self._venues):
            self.decide(name, Tick())
        if self._actuator.take_acted():  # something was started or stopped: look at the feed again
            self._sync()
        self._run_plugins()
        self._settle(self._clock())

    def _timeout(self, now: float) -> float:
        retries = [v.restart.next_retry_at for v in self._venues.values() if v.restart.next_retry_at is not None]
        return max(0.0, min([POLL_S, *(at - now for at in retries)]))

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

    def fingerprint(self, name: str) -> str:
        """A digest of what reaches this venue's archiver: a change releases an operator's stop."""
        return settings_fingerprint(self._rendered.programs[name])

    # ---- supervisord's news --------------------------------------------------------

    def _sync(self) -> None:
        """Apply what changed in supervisord since the last look."""
        news = self._link.news(self._venues, self._wall(), shutting_down=self._shutting_down)
        if news is None:
            self._finished = True
            return
        for name, event in news:
            if name in self._venues:
                self.decide(name, event)

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
            for follow_up in self._actuator.act(name, action):
                self.decide(name, follow_up)

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
            results = [pending.result(v, self.describe(v)) for v in venues]
            answer(pending.future, {"ok": all(r["ok"] for r in results), **pending.summary, "venues": results})
