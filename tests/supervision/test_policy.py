"""The restart policy: backoff growth and cap, healthy reset, holds, operator overrides."""

from __future__ import annotations

import pytest

from supervisor_app.config.model import RestartPolicy
from supervisor_app.supervision.policy import (
    ExitReport,
    Hold,
    RestartState,
    Retry,
    backoff_delay,
    is_due,
    on_exit,
    operator_started,
    operator_stopped,
    retry_started,
    running_healthy,
)

POLICY = RestartPolicy(initial_delay_s=1.0, max_delay_s=60.0, healthy_after_s=60.0)
CRASH = ExitReport(code=None, signal="SIGKILL", ran_for_s=2.0)


def _crash_series(count: int, report: ExitReport = CRASH) -> tuple[RestartState, list[float]]:
    state, delays = RestartState(), []
    for now in range(count):
        state, decision = on_exit(POLICY, state, report, float(now))
        assert isinstance(decision, Retry)
        delays.append(decision.delay_s)
        state = retry_started(state)
    return state, delays


@pytest.mark.parametrize(
    ("failures", "delay"), [(0, 1.0), (1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (7, 60.0), (10_000, 60.0)]
)
def test_backoff_doubles_from_the_initial_delay_up_to_the_cap(failures: int, delay: float) -> None:
    assert backoff_delay(POLICY, failures) == delay


def test_repeated_crashes_back_off_and_count_restarts() -> None:
    state, delays = _crash_series(8)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    assert (state.failures, state.restarts, state.next_retry_at) == (8, 8, None)


def test_a_crash_schedules_the_retry_on_the_given_clock() -> None:
    state, decision = on_exit(POLICY, RestartState(), ExitReport(code=75, ran_for_s=0.1), now=100.0)
    assert decision == Retry(delay_s=1.0, attempt=1)
    assert state.next_retry_at == 101.0 and state.last_exit == ExitReport(code=75, ran_for_s=0.1)
    assert not is_due(state, 100.9) and is_due(state, 101.0)


def test_a_healthy_run_resets_the_backoff() -> None:
    state, _ = _crash_series(5)
    state, decision = on_exit(POLICY, state, ExitReport(code=None, signal="SIGSEGV", ran_for_s=60.0), now=0.0)
    assert decision == Retry(delay_s=1.0, attempt=1)


def test_a_long_run_resets_the_failures_while_it_still_runs() -> None:
    state, _ = _crash_series(3)
    assert running_healthy(POLICY, state, 59.9) is state
    assert running_healthy(POLICY, state, 60.0).failures == 0


def test_exit_78_holds_with_a_reason_and_no_retry() -> None:
    report = ExitReport(code=78, ran_for_s=0.2, detail="archive root /x is not a directory")
    state, decision = on_exit(POLICY, RestartState(failures=2), report, now=5.0)
    assert isinstance(decision, Hold)
    assert decision.reason.startswith("exit code 78: the archiver reports a permanent error")
    assert decision.reason.endswith("(archive root /x is not a directory)")
    assert (state.held_reason, state.next_retry_at, state.failures) == (decision.reason, None, 2)


def test_exit_2_a_rejected_command_line_holds_too() -> None:
    _, decision = on_exit(POLICY, RestartState(), ExitReport(code=2), now=1.0)
    assert isinstance(decision, Hold) and decision.reason.startswith("exit code 2: ")


@pytest.mark.parametrize(
    "report", [ExitReport(code=75), ExitReport(code=0), ExitReport(code=1), ExitReport(None, spawn_error="ENOMEM")]
)
def test_every_other_ending_is_retried_for_ever(report: ExitReport) -> None:
    state, delays = _crash_series(50, report)
    assert delays[-1] == 60.0 and state.held_reason is None


def test_operator_stop_cancels_the_retry_and_start_forgets_the_backoff() -> None:
    state, _ = on_exit(POLICY, RestartState(failures=4), CRASH, now=0.0)
    stopped = operator_stopped(state)
    assert (stopped.next_retry_at, stopped.held_reason, stopped.failures) == (None, None, 5)
    started = operator_started(stopped)
    assert (started.failures, started.next_retry_at) == (0, None)
    held, _ = on_exit(POLICY, RestartState(), ExitReport(code=78), now=0.0)
    assert operator_started(held).held_reason is None


@pytest.mark.parametrize(
    ("report", "words"),
    [
        (ExitReport(code=75), "exit code 75"),
        (CRASH, "killed by SIGKILL"),
        (ExitReport(None), "killed by a signal"),
        (ExitReport(None, spawn_error="no such file"), "could not start: no such file"),
    ],
)
def test_exits_are_described_in_a_few_words(report: ExitReport, words: str) -> None:
    assert report.describe() == words
