"""Restart decisions for one venue's archiver: exponential backoff, healthy reset, holds.

Pure: the time is passed in and nothing is started here; the engine acts on the decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from supervisor_app.config.model import RestartPolicy
from supervisor_app.errors import EXIT_PERMANENT, EXIT_USAGE

_MAX_EXPONENT = 62  # 2**62 s is forever; a bigger exponent would only risk float overflow


@dataclass(frozen=True)
class ExitReport:
    """How one run of an archiver ended."""

    code: int | None  # exit status; None when a signal killed it or it never started
    signal: str | None = None  # e.g. "SIGKILL" when a signal killed it
    ran_for_s: float = 0.0
    at: float | None = None  # wall-clock time of the exit, for status
    spawn_error: str | None = None  # why supervisord could not start it at all
    detail: str | None = None  # the archiver's own last error message, when known
    stalled_for_s: float | None = None  # set when the stall watchdog killed it: its heartbeat's age then

    @property
    def permanent(self) -> bool:
        return self.code in (EXIT_PERMANENT, EXIT_USAGE)

    @property
    def reason(self) -> str:
        """Why it ended, as a metrics label: stalled, spawn, signal or exit."""
        if self.stalled_for_s is not None:
            return "stalled"
        if self.spawn_error is not None:
            return "spawn"
        return "exit" if self.code is not None else "signal"

    def describe(self) -> str:
        """A few words for logs and status: `exit code 75`, `killed by SIGKILL`."""
        if self.stalled_for_s is not None:
            return f"stalled (reader heartbeat {self.stalled_for_s:.0f} s old), killed by the watchdog"
        if self.spawn_error is not None:
            return f"could not start: {self.spawn_error}"
        if self.code is not None:
            return f"exit code {self.code}"
        return f"killed by {self.signal}" if self.signal else "killed by a signal"


@dataclass(frozen=True)
class RestartState:
    """What the policy remembers about one venue."""

    failures: int = 0  # crashes in a row without a healthy run between them
    restarts: int = 0  # restarts this policy has made since the supervisor started
    last_exit: ExitReport | None = None
    next_retry_at: float | None = None  # on the engine's (monotonic) clock
    held_reason: str | None = None


@dataclass(frozen=True)
class Retry:
    """Start the archiver again after `delay_s`; `attempt` counts the crashes in a row."""

    delay_s: float
    attempt: int


@dataclass(frozen=True)
class Hold:
    """Do not start the archiver again until an operator or a config change says so."""

    reason: str


Decision = Retry | Hold


def backoff_delay(policy: RestartPolicy, failures: int) -> float:
    """initial x 2^(failures-1), capped at the policy's maximum."""
    exponent = min(max(failures - 1, 0), _MAX_EXPONENT)
    return min(policy.initial_delay_s * 2.0**exponent, policy.max_delay_s)


def on_exit(
    policy: RestartPolicy, state: RestartState, report: ExitReport, now: float
) -> tuple[RestartState, Decision]:
    """The archiver ended without being asked to: hold it, or schedule its restart."""
    if report.permanent:
        reason = hold_reason(report)
        return replace(state, last_exit=report, next_retry_at=None, held_reason=reason), Hold(reason)
    # A run that lasted healthy_after proves the last series of crashes is over.
    failures = 1 if report.ran_for_s >= policy.healthy_after_s else state.failures + 1
    delay = backoff_delay(policy, failures)
    new = replace(state, failures=failures, last_exit=report, next_retry_at=now + delay, held_reason=None)
    return new, Retry(delay, failures)


def hold_reason(report: ExitReport) -> str:
    """Why a venue is held, in words an operator can act on."""
    reason = f"{report.describe()}: the archiver reports a permanent error that retrying cannot fix"
    return f"{reason} ({report.detail})" if report.detail else reason


def is_due(state: RestartState, now: float) -> bool:
    return state.next_retry_at is not None and now >= state.next_retry_at


def retry_started(state: RestartState) -> RestartState:
    """The scheduled restart has been made."""
    return replace(state, restarts=state.restarts + 1, next_retry_at=None)


def operator_started(state: RestartState) -> RestartState:
    """An operator start is a fresh beginning: no hold, no pending retry, no backoff."""
    return replace(state, failures=0, next_retry_at=None, held_reason=None)


def operator_stopped(state: RestartState) -> RestartState:
    """An operator stop cancels a scheduled retry and replaces a hold."""
    return replace(state, next_retry_at=None, held_reason=None)


def running_healthy(policy: RestartPolicy, state: RestartState, running_for_s: float) -> RestartState:
    """A child that has run for healthy_after has earned a fresh backoff."""
    if state.failures and running_for_s >= policy.healthy_after_s:
        return replace(state, failures=0)
    return state
