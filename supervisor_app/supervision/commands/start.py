"""`start VENUE...`: only the named venues; the others are not touched."""

from __future__ import annotations

from concurrent.futures import Future

from supervisor_app.supervision.commands import Fleet, Reply, Start
from supervisor_app.supervision.commands.venue_operation import operate
from supervisor_app.supervision.venue import StartRequested


def handle(fleet: Fleet, command: Start, future: Future[Reply] | None) -> None:
    if operate(fleet, "start", command.venues, StartRequested(), future, every=command.every):
        for name in sorted(fleet.venues) if command.every else command.venues:
            fleet.records.released(name)
