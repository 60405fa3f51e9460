"""The venue state machine by table: each phase x event gives the next phase and the engine's actions."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from supervisor_app.config.model import RestartPolicy, VenueConfig
from supervisor_app.supervision import policy
from supervisor_app.supervision.venue import (
    Action,
    Adopted,
    Context,
    CountRestart,
    Ended,
    Event,
    Kill,
    Log,
    Phase,
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
    Venue,
    decide,
    is_current,
)

CONFIG = VenueConfig("okx", Path("/q/okx"), "queue")
POLICY = RestartPolicy(initial_delay_s=1.0, max_delay_s=8.0, healthy_after_s=30.0)
NOW, WALL = 100.0, 1_800_000_000.0
CONTEXT = Context(POLICY, NOW, WALL)
CRASH = Ended(policy.ExitReport(code=75, ran_for_s=2.0), pid=41)
KILLED = Ended(policy.ExitReport(code=None, signal="SIGKILL", ran_for_s=2.0), pid=41)
PERMANENT = Ended(policy.ExitReport(code=78, ran_for_s=2.0, detail="archive conflict"), pid=41)
STOPPED = Ended(policy.ExitReport(code=0, ran_for_s=2.0), pid=41, stopped=True)
DUE = policy.RestartState(failures=1, next_retry_at=NOW - 0.1)
NOT_DUE = policy.RestartState(failures=1, next_retry_at=NOW + 5.0)


def venue(phase: Phase, **changes: object) -> Venue:
    pid = 41 if phase in ("starting", "running", "stopping") else None
    base = Venue(CONFIG, phase=phase, pid=pid, started_at=WALL - 5.0 if pid else None)
    return replace(base, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Row:
    """One line of the table: a venue, an event, and what must come of it."""

    id: str
    before: Venue
    event: Event
    phase: Phase | None  # None: the venue is gone
    actions: tuple[type | str, ...]  # action classes, or a Log's event name

    @property
    def context(self) -> Context:
        return CONTEXT


def _shape(actions: tuple[Action, ...]) -> tuple[type | str, ...]:
    return tuple(action.event if isinstance(action, Log) else type(action) for action in actions)


ROWS = [
    # supervisord's news
    Row("running-reported", venue("starting"), Spawned(42, WALL), "running", ("spawned",)),
    Row("running-while-stopping-stays-stopping", venue("stopping"), Spawned(42, WALL), "stopping", ("spawned",)),
    Row("adopted-is-quiet", venue("starting"), Adopted(42, WALL), "running", ()),
    Row("crash-backs-off", venue("running"), CRASH, "backoff", ("exited", "restart_scheduled")),
    Row("signal-backs-off", venue("running"), KILLED, "backoff", ("exited", "restart_scheduled")),
    Row("exit-78-holds", venue("running"), PERMANENT, "held", ("exited", "held")),
    Row("stop-from-outside-is-a-stop", venue("running"), STOPPED, "stopped", ("stopped",)),
    Row("stop-we-asked-for", venue("stopping"), CRASH, "stopped", ("stopped",)),
    Row(
        "stop-then-start", venue("stopping", after_stop="start"), STOPPED, "starting", ("stopped", CountRestart, Spawn)
    ),
    Row(
        "stop-then-replace",
        venue("stopping", after_stop="replace"),
        STOPPED,
        "starting",
        ("stopped", SwapGroup, CountRestart, Spawn),
    ),
    Row("stop-then-remove", venue("stopping", after_stop="remove"), STOPPED, None, ("stopped", RemoveGroup, "removed")),
    Row("end-of-an-older-process-is-ignored", venue("running", pid=99), CRASH, "running", ()),
    Row("end-when-nothing-runs-is-ignored", venue("backoff"), CRASH, "backoff", ()),
    Row(
        "unanswered-start-backs-off",
        venue("starting"),
        SpawnFailed("timed out"),
        "backoff",
        ("exited", "restart_scheduled"),
    ),
    # operators
    Row("start-stopped", venue("stopped"), StartRequested(), "starting", (Spawn,)),
    Row("start-held", venue("held"), StartRequested(), "starting", (Spawn,)),
    Row("start-running-is-nothing", venue("running"), StartRequested(), "running", ()),
    Row("start-while-stopping-waits", venue("stopping"), StartRequested(), "stopping", ()),
    Row("stop-running", venue("running"), StopRequested(), "stopping", (SendStop,)),
    Row("stop-starting", venue("starting"), StopRequested(), "stopping", (SendStop,)),
    Row("stop-while-stopping-sends-nothing", venue("stopping", after_stop="start"), StopRequested(), "stopping", ()),
    Row("stop-backoff-cancels-retry", venue("backoff", restart=DUE), StopRequested(), "stopped", ("stopped",)),
    Row("stop-held", venue("held"), StopRequested(), "stopped", ("stopped",)),
    Row("stop-stopped-is-nothing", venue("stopped"), StopRequested(), "stopped", ()),
    Row("restart-running", venue("running"), RestartRequested(), "stopping", (SendStop,)),
    Row("restart-stopped-starts", venue("stopped"), RestartRequested(), "starting", (Spawn,)),
    # reloads
    Row("replace-running", venue("running"), Replaced(CONFIG), "stopping", (SendStop,)),
    Row("replace-stopped", venue("stopped"), Replaced(CONFIG), "starting", (SwapGroup, Spawn)),
    Row("remove-running", venue("running"), Removed(), "stopping", (SendStop,)),
    Row("remove-held", venue("held"), Removed(), None, (RemoveGroup, "removed")),
    # shutdown
    Row("shutdown-running", venue("running"), ShutdownRequested(), "stopping", (SendStop,)),
    Row("shutdown-backoff-quietly", venue("backoff", restart=DUE), ShutdownRequested(), "stopped", ()),
    # the engine's step
    Row("tick-due-retry", venue("backoff", restart=DUE), Tick(), "starting", ("restarting", CountRestart, Spawn)),
    # the stall watchdog
    Row("stalled-is-killed", venue("running"), Stalled(12.0), "running", ("archiver_stalled", Kill)),
    Row("stalled-twice-is-killed-once", venue("running", stalled_for_s=12.0), Stalled(13.0), "running", ()),
    Row("starting-is-not-judged", venue("starting"), Stalled(12.0), "starting", ()),
    Row(
        "killed-stalled-backs-off",
        venue("running", stalled_for_s=12.0),
        KILLED,
        "backoff",
        ("exited", "restart_scheduled"),
    ),
    Row("tick-retry-not-due", venue("backoff", restart=NOT_DUE), Tick(), "backoff", ()),
    Row(
        "tick-healthy-run-resets",
        venue("running", started_at=WALL - 31.0, restart=policy.RestartState(failures=3)),
        Tick(),
        "running",
        ("backoff_reset",),
    ),
    Row(
        "tick-young-run-keeps-backoff", venue("running", restart=policy.RestartState(failures=3)), Tick(), "running", ()
    ),
]


def test_the_table_has_unique_ids() -> None:
    assert len({row.id for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_transition(row: Row) -> None:
    after, actions = decide(row.before, row.event, row.context)
    assert (None if after is None else after.phase) == row.phase
    assert _shape(actions) == row.actions


def test_after_a_shutdown_began_an_end_is_a_stop_with_nothing_after_it() -> None:
    after, actions = decide(venue("running", after_stop="start"), CRASH, replace(CONTEXT, shutting_down=True))
    assert after is not None and after.phase == "stopped" and after.after_stop is None
    assert _shape(actions) == ("stopped",)


def test_a_crash_schedules_the_retry_on_the_engine_clock_and_tells_when() -> None:
    after, actions = decide(venue("running"), CRASH, CONTEXT)
    assert after is not None and after.restart.next_retry_at == NOW + 1.0
    scheduled = next(a for a in actions if isinstance(a, Log) and a.event == "restart_scheduled")
    assert scheduled.fields["delay_s"] == 1.0 and scheduled.fields["retry_at"].startswith("2027-01-15T08:00:01")


def test_a_hold_keeps_the_archiver_s_own_error_as_its_reason() -> None:
    after, actions = decide(venue("running"), PERMANENT, CONTEXT)
    assert after is not None and after.restart.held_reason is not None
    assert "archive conflict" in after.restart.held_reason and "exit code 78" in after.restart.held_reason
    held = next(a for a in actions if isinstance(a, Log) and a.event == "held")
    assert held.level == "error" and held.fields["action"] == "fix the cause, then: chronicle-fleet start okx"


def test_a_replaced_venue_gets_a_fresh_policy_but_keeps_its_restart_count() -> None:
    held = venue("held", restart=policy.RestartState(failures=4, restarts=7, held_reason="x"))
    new_config = replace(CONFIG, queue_dir=Path("/q/elsewhere"))
    after, _ = decide(held, Replaced(new_config), CONTEXT)
    assert after is not None and after.config == new_config
    assert (after.restart.restarts, after.restart.failures, after.restart.held_reason) == (7, 0, None)


def test_an_operator_start_clears_a_hold_and_the_backoff() -> None:
    held = venue("held", restart=policy.RestartState(failures=4, held_reason="x"))
    after, _ = decide(held, StartRequested(), CONTEXT)
    assert after is not None and (after.restart.failures, after.restart.held_reason) == (0, None)


def test_is_current_matches_the_known_pid_only() -> None:
    assert is_current(venue("running"), 41) and is_current(venue("running"), 0)
    assert not is_current(venue("running"), 40) and not is_current(venue("stopped"), 41)


def test_a_stalled_archiver_s_end_counts_as_a_stall_and_its_restart_as_one() -> None:
    after, _ = decide(venue("running", stalled_for_s=12.4), KILLED, CONTEXT)
    assert after is not None and after.restart.last_exit is not None
    assert after.restart.last_exit.reason == "stalled"
    assert after.restart.last_exit.describe() == "stalled (reader heartbeat 12 s old), killed by the watchdog"
    due = replace(after, restart=replace(after.restart, next_retry_at=NOW - 1))
    restarted, actions = decide(due, Tick(), CONTEXT)
    assert restarted is not None and restarted.stalled_for_s is None
    assert CountRestart("stalled") in actions
