"""Shutdown (SIGTERM/SIGINT to `run`): stop every archiver, then let the engine finish."""

from __future__ import annotations

from concurrent.futures import Future

from supervisor_app.supervision.commands import Fleet, Reply, Shutdown
from supervisor_app.supervision.venue import ShutdownRequested


def handle(fleet: Fleet, command: Shutdown, future: Future[Reply] | None) -> None:
    if fleet.shutting_down:
        return
    fleet.begin_shutdown()
    fleet.log.info("fleet_stopping", venues=len(fleet.venues))
    for name in list(fleet.venues):
        fleet.decide(name, ShutdownRequested())
    fleet.wait_for("shutdown", tuple(fleet.venues), future)
