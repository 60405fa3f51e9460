"""A venue's lifecycle vocabulary: what happens to a venue (events) and what the engine must do (actions).

Frozen records only; `venue.decide` holds the rules that turn one into the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from supervisor_app.config.model import RestartPolicy, VenueConfig
from supervisor_app.supervision import policy

# ---- what happens to a venue ------------------------------------------------------------


@dataclass(frozen=True)
class Spawned:
    """supervisord reports the archiver running."""

    pid: int
    started_at: float


@dataclass(frozen=True)
class Adopted:
    """supervisord has the archiver running though we had not heard (a start found it up, or a resync): quietly ours."""

    pid: int
    started_at: float


@dataclass(frozen=True)
class Ended:
    """The archiver's process ended; `stopped` when supervisord stopped it (ours or an operator's)."""

    report: policy.ExitReport
    pid: int = 0  # the pid that ended; 0 when unknown
    stopped: bool = False


@dataclass(frozen=True)
class SpawnFailed:
    """supervisord did not answer a start: try again later, as after a crash."""

    error: str


@dataclass(frozen=True)
class Stalled:
    """The running archiver's reader heartbeat is older than the stall timeout: it is hung."""

    heartbeat_age_s: float


@dataclass(frozen=True)
class StartRequested:
    """An operator start, or a venue (re)added by a reload."""


@dataclass(frozen=True)
class StopRequested:
    """An operator stop."""


@dataclass(frozen=True)
class RestartRequested:
    """An operator restart."""


@dataclass(frozen=True)
class Replaced:
    """A reload changed this venue's settings: it starts over with them."""

    config: VenueConfig


@dataclass(frozen=True)
class Removed:
    """A reload removed this venue."""


@dataclass(frozen=True)
class ShutdownRequested:
    """The whole fleet is stopping."""


@dataclass(frozen=True)
class Tick:
    """The engine's step: a due retry is made, a healthy run resets the backoff."""


Event = (
    Spawned
    | Adopted
    | Ended
    | SpawnFailed
    | Stalled
    | StartRequested
    | StopRequested
    | RestartRequested
    | Replaced
    | Removed
    | ShutdownRequested
    | Tick
)


@dataclass(frozen=True)
class Context:
    """What a decision may depend on besides the venue and the event."""

    restart_policy: RestartPolicy
    now: float  # the engine's monotonic clock
    wall: float  # wall-clock seconds
    shutting_down: bool = False


# ---- what the engine must do --------------------------------------------------------------


@dataclass(frozen=True)
class Spawn:
    """Start the venue's program (a start supervisord does not answer comes back as SpawnFailed)."""


@dataclass(frozen=True)
class SendStop:
    """Ask supervisord to stop the venue's program (SIGTERM, then the stop timeout)."""


@dataclass(frozen=True)
class Kill:
    """SIGKILL the venue's archiver: a stopped (SIGSTOP) or hung process ignores SIGTERM."""


@dataclass(frozen=True)
class CountRestart:
    """One restart of the venue, for the counters that survive `run` (metrics' restarts_total)."""

    reason: str


@dataclass(frozen=True)
class SwapGroup:
    """Make supervisord take the program's new settings (it keeps the old ones until its group is re-added)."""


@dataclass(frozen=True)
class RemoveGroup:
    """Remove the program from supervisord; the venue is forgotten."""


@dataclass(frozen=True)
class Log:
    """One lifecycle log event."""

    level: Literal["info", "warning", "error"]
    event: str
    fields: Mapping[str, Any] = field(default_factory=dict)


Action = Spawn | SendStop | Kill | CountRestart | SwapGroup | RemoveGroup | Log
