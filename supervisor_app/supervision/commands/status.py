"""`status`: every venue's row, answered at once."""

from __future__ import annotations

from concurrent.futures import Future

from supervisor_app.supervision.commands import Fleet, Reply, Status, answer


def handle(fleet: Fleet, command: Status, future: Future[Reply] | None) -> None:
    rows = [fleet.describe(fleet.venues[name]) for name in sorted(fleet.venues)]
    answer(future, {"ok": True, "fleet": fleet.fleet_info(), "venues": rows})
