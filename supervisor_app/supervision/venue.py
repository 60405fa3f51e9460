"""One venue's lifecycle as a state machine that only decides: an event in, the new venue and actions out.

Pure: no I/O and no clock reads (times come in the Context). The engine carries out the
actions and feeds back what supervisord reports, so every rule of the lifecycle lives
here and is tested by table (tests/supervision/test_venue.py). The events and actions
themselves are records in `venue_events`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from supervisor_app.config.model import VenueConfig
from supervisor_app.supervision import policy
from supervisor_app.supervision.venue_events import (
    Action,
    Adopted,
    Context,
    CountRestart,
    Ended,
    Event,
    Kill,
    Log,
    Removed,
    RemoveGroup,
    Replaced,
    RestartRequested,
    SendStop,
    ShutdownRequested,
    Spawn,
    Spawned,
    SpawnFailed,
    Stalled,
    StartRequested,
    StopRequested,
    SwapGroup,
    Tick,
)
from supervisor_app.timefmt import iso_utc

Phase = Literal["starting", "running", "stopping", "backoff", "held", "stopped"]
AfterStop = Literal["start", "replace", "remove"]
PHASES: tuple[Phase, ...] = ("starting", "running", "stopping", "backoff", "held", "stopped")
UP: tuple[Phase, ...] = ("starting", "running")  # a process exists (or is being spawned)
WITH_PROCESS: tuple[Phase, ...] = (*UP, "stopping")


@dataclass(frozen=True)
class Venue:
    """One enabled venue as the engine sees it."""

    config: VenueConfig
    restart: policy.RestartState = field(default_factory=policy.RestartState)
    phase: Phase = "stopped"
    pid: int | None = None
    started_at: float | None = None  # wall clock
    after_stop: AfterStop | None = None  # what to do once the process we are stopping has ended
    stalled_for_s: float | None = None  # the stall watchdog killed it; its end counts as a stall

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def settled(self) -> bool:
        return self.phase not in ("starting", "stopping") and self.after_stop is None

    @property
    def has_process(self) -> bool:
        return self.phase in WITH_PROCESS


Outcome = tuple[Venue | None, tuple[Action, ...]]  # None: the venue is gone


def decide(venue: Venue, event: Event, context: Context) -> Outcome:
    """The venue after `event`, and what the engine must do about it."""
    return _RULES[type(event)](venue, event, context)


def is_current(venue: Venue, pid: int) -> bool:
    """An end belongs to the process we know of, not to an older one already accounted for."""
    return venue.has_process and not (venue.pid and pid and pid != venue.pid)


def iso(wall: float | None) -> str | None:
    """Wall-clock seconds as ISO-8601 UTC, as in the logs."""
    return None if wall is None else iso_utc(wall)


# ---- the rules ------------------------------------------------------------------------------


def _spawned(venue: Venue, event: Spawned, context: Context) -> Outcome:
    phase: Phase = "stopping" if venue.phase == "stopping" else "running"
    log = Log(
        "info",
        "spawned",
        {"child_pid": event.pid, "restarts": venue.restart.restarts, "started_at": iso(event.started_at)},
    )
    return replace(venue, phase=phase, pid=event.pid, started_at=event.started_at), (log,)


def _adopted(venue: Venue, event: Adopted, context: Context) -> Outcome:
    phase: Phase = "stopping" if venue.phase == "stopping" else "running"
    return replace(venue, phase=phase, pid=event.pid, started_at=event.started_at), ()


def _ended(venue: Venue, event: Ended, context: Context) -> Outcome:
    if not is_current(venue, event.pid):
        return venue, ()
    if venue.phase == "stopping" or context.shutting_down or event.stopped:
        return _finish_stop(venue, event.report, context)
    report = event.report if venue.stalled_for_s is None else replace(event.report, stalled_for_s=venue.stalled_for_s)
    return _crashed(venue, report, context)


def _stalled(venue: Venue, event: Stalled, context: Context) -> Outcome:
    if venue.phase != "running" or venue.stalled_for_s is not None:
        return venue, ()  # not ours to judge (starting, stopping), or already being killed
    logged = Log(
        "error",
        "archiver_stalled",
        {
            "child_pid": venue.pid,
            "heartbeat_age_s": round(event.heartbeat_age_s, 1),
            "stall_timeout_s": venue.config.archiver.stall_timeout_s,
            "action": "leasing its reader, killing it (SIGKILL) and restarting it",
        },
    )
    return replace(venue, stalled_for_s=event.heartbeat_age_s), (logged, Kill())


def _spawn_failed(venue: Venue, event: SpawnFailed, context: Context) -> Outcome:
    report = policy.ExitReport(
        None, at=context.wall, spawn_error=f"supervisord did not answer the start: {event.error}"
    )
    return _crashed(venue, report, context)


def _crashed(venue: Venue, report: policy.ExitReport, context: Context) -> Outcome:
    """The archiver ended without being asked to: the policy decides what happens next."""
    restart, decision = policy.on_exit(context.restart_policy, venue.restart, report, context.now)
    exited = Log("warning", "exited", {"expected": False, **exit_fields(venue, report)})
    if isinstance(decision, policy.Hold):
        held = Log(
            "error",
            "held",
            {"reason": decision.reason, "action": f"fix the cause, then: chronicle-fleet start {venue.name}"},
        )
        return replace(venue, phase="held", restart=restart, pid=None, started_at=None), (exited, held)
    scheduled = Log(
        "info",
        "restart_scheduled",
        {"delay_s": decision.delay_s, "attempt": decision.attempt, "retry_at": iso(context.wall + decision.delay_s)},
    )
    return replace(venue, phase="backoff", restart=restart, pid=None, started_at=None), (exited, scheduled)


def _finish_stop(venue: Venue, report: policy.ExitReport, context: Context) -> Outcome:
    """A stop we (or an operator through supervisord) asked for has finished; do what was waiting on it."""
    logged = Log("info", "stopped", {"expected": True, **exit_fields(venue, report)})
    then = venue.after_stop
    venue = replace(
        venue,
        phase="stopped",
        pid=None,
        started_at=None,
        after_stop=None,
        stalled_for_s=None,
        restart=policy.operator_stopped(venue.restart),
    )
    if context.shutting_down or then is None:
        return venue, (logged,)
    if then == "remove":
        return None, (logged, RemoveGroup(), Log("info", "removed"))
    swap: tuple[Action, ...] = (
        (SwapGroup(), CountRestart("config")) if then == "replace" else (CountRestart("operator"),)
    )
    started, spawn = _spawn(replace(venue, restart=policy.operator_started(venue.restart)))
    return started, (logged, *swap, *spawn)


def _spawn(venue: Venue) -> tuple[Venue, tuple[Action, ...]]:
    return replace(venue, phase="starting", pid=None, started_at=None, stalled_for_s=None), (Spawn(),)


def _begin_stop(venue: Venue, then: AfterStop | None) -> Outcome:
    """Stop the venue's process, or change what follows a stop already under way."""
    if venue.phase == "stopping":
        return replace(venue, after_stop=then), ()
    return replace(venue, phase="stopping", after_stop=then), (SendStop(),)


def _start_requested(venue: Venue, event: StartRequested, context: Context) -> Outcome:
    if venue.phase in UP:
        return venue, ()
    if venue.phase == "stopping":
        return replace(venue, after_stop="start"), ()
    return _spawn(replace(venue, restart=policy.operator_started(venue.restart)))


def _stop_requested(venue: Venue, event: StopRequested | ShutdownRequested, context: Context) -> Outcome:
    if venue.has_process:
        return _begin_stop(venue, None)
    if venue.phase in ("backoff", "held"):
        # Cancels the scheduled retry, or replaces the hold with an operator stop.
        stopped = replace(venue, phase="stopped", restart=policy.operator_stopped(venue.restart))
        if isinstance(event, ShutdownRequested):
            return stopped, ()
        return stopped, (Log("info", "stopped", {"expected": True, "was": venue.phase}),)
    return venue, ()


def _restart_requested(venue: Venue, event: RestartRequested, context: Context) -> Outcome:
    if venue.has_process:
        return _begin_stop(venue, "start")
    return _start_requested(venue, StartRequested(), context)


def _replaced(venue: Venue, event: Replaced, context: Context) -> Outcome:
    """A changed venue starts over: new settings, a fresh policy (a hold is released), a new process."""
    venue = replace(venue, config=event.config, restart=policy.RestartState(restarts=venue.restart.restarts))
    if venue.has_process:
        return _begin_stop(venue, "replace")
    started, spawn = _spawn(venue)
    return started, (SwapGroup(), *spawn)


def _removed(venue: Venue, event: Removed, context: Context) -> Outcome:
    if venue.has_process:
        return _begin_stop(venue, "remove")
    return None, (RemoveGroup(), Log("info", "removed"))


def _tick(venue: Venue, event: Tick, context: Context) -> Outcome:
    if venue.phase == "backoff" and policy.is_due(venue.restart, context.now):
        last = venue.restart.last_exit
        reason = last.reason if last is not None else "exit"
        restarting = Log("info", "restarting", {"attempt": venue.restart.failures, "reason": reason})
        started, spawn = _spawn(replace(venue, restart=policy.retry_started(venue.restart)))
        return started, (restarting, CountRestart(reason), *spawn)
    if venue.phase == "running" and venue.started_at:
        running_for = context.wall - venue.started_at
        restart = policy.running_healthy(context.restart_policy, venue.restart, running_for)
        if restart != venue.restart:
            return replace(venue, restart=restart), (
                Log("info", "backoff_reset", {"running_for_s": round(running_for, 1)}),
            )
    return venue, ()


def exit_fields(venue: Venue, report: policy.ExitReport) -> dict[str, Any]:
    """How a run ended, as log fields."""
    return {
        "child_pid": venue.pid,
        "exit_code": report.code,
        "signal": report.signal,
        "ran_for_s": report.ran_for_s,
        "ended_at": iso(report.at),
        "how": report.describe(),
    }


_RULES: Mapping[type, Callable[[Venue, Any, Context], Outcome]] = {
    Spawned: _spawned,
    Adopted: _adopted,
    Ended: _ended,
    SpawnFailed: _spawn_failed,
    Stalled: _stalled,
    StartRequested: _start_requested,
    StopRequested: _stop_requested,
    RestartRequested: _restart_requested,
    Replaced: _replaced,
    Removed: _removed,
    ShutdownRequested: _stop_requested,
    Tick: _tick,
}
