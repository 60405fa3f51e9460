"""`restart VENUE...`: only the named venues; the others are not touched."""

from __future__ import annotations

from concurrent.futures import Future

from supervisor_app.supervision.commands import Fleet, Reply, Restart
from supervisor_app.supervision.commands.venue_operation import operate
from supervisor_app.supervision.venue import RestartRequested


def handle(fleet: Fleet, command: Restart, future: Future[Reply] | None) -> None:
    if operate(fleet, "restart", command.venues, RestartRequested(), future, every=command.every):
        for name in sorted(fleet.venues) if command.every else command.venues:
            fleet.records.released(name)
