"""`stop VENUE...`: only the named venues; the others are not touched."""

from __future__ import annotations

from concurrent.futures import Future

from supervisor_app.supervision.commands import Fleet, Reply, Stop
from supervisor_app.supervision.commands.venue_operation import operate
from supervisor_app.supervision.venue import StopRequested


def handle(fleet: Fleet, command: Stop, future: Future[Reply] | None) -> None:
    if operate(fleet, "stop", command.venues, StopRequested(), future, every=command.every):
        for name in (
            sorted(fleet.venues) if command.every else command.venues
        ):  # remembered across restarts of `run`, until a start or a config change
            fleet.records.operator_stopped(name, fleet.fingerprint(name))
