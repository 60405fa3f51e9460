"""What runs around the engine's core: reader leases, the stall watchdog, the archive watch, systemd, metrics.

The leases and the stall watchdog act on venues (the engine asks them each step); the
others only observe: each has `on_step(fleet)`, called at the end of every step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from supervisor_app.supervision.plugins.archive_watch import VenueWatch
    from supervisor_app.supervision.venue import Venue


class FleetView(Protocol):
    """What an observing plugin reads of the engine."""

    @property
    def venues(self) -> Mapping[str, Venue]: ...
    @property
    def shutting_down(self) -> bool: ...
    def archive_snapshot(self) -> Mapping[str, VenueWatch]: ...


class Observer(Protocol):
    """A plugin that watches the fleet at every step of the engine (and never blocks it)."""

    def on_step(self, fleet: FleetView) -> None: ...
