"""`reload` (and SIGHUP): validate the file, then add, remove and restart only the venues that changed."""

from __future__ import annotations

from concurrent.futures import Future

from supervisor_app.config.model import FleetConfig
from supervisor_app.errors import ConfigError
from supervisor_app.supervision.commands import Fleet, Reload, Reply, answer
from supervisor_app.supervision.fleet_diff import diff_fleets
from supervisor_app.supervision.venue import Removed, Replaced


def handle(fleet: Fleet, command: Reload, future: Future[Reply] | None) -> None:
    if fleet.shutting_down:
        answer(future, {"ok": False, "error": "the fleet is shutting down"})
        return
    path = command.path or fleet.config_path
    try:
        config, rendered = fleet.prepare(path)
        _same_state_dir(fleet.config, config)
        fleet.install(config, rendered, path)
    except OSError as error:
        fleet.log.error("reload_rejected", config=str(path), error=str(error))
        answer(future, {"ok": False, "error": str(error)})
        return
    except ConfigError as error:
        problems = [str(p) for p in error.problems]
        fleet.log.error("reload_rejected", config=str(path), error=str(error).splitlines()[0], problems=problems)
        answer(future, {"ok": False, "error": str(error).splitlines()[0], "problems": problems})
        return
    diff = diff_fleets(fleet.config, fleet.rendered, config, rendered)
    fleet.switch_config(config, rendered, path)
    for name in diff.removed:
        fleet.decide(name, Removed())
    for name in diff.changed:
        fleet.records.released(name)  # a config change releases an operator's stop
        fleet.decide(name, Replaced(config.venue(name)))
    for name in diff.added:
        fleet.add_venue(config.venue(name))
    summary = {
        "added": list(diff.added),
        "changed": list(diff.changed),
        "removed": list(diff.removed),
        "unchanged": list(diff.unchanged),
    }
    fleet.log.info("reloaded", config=str(path), **summary)
    fleet.wait_for("reload", diff.touched, future, **summary)


def _same_state_dir(running: FleetConfig, config: FleetConfig) -> None:
    if config.supervisor.state_dir != running.supervisor.state_dir:
        message = (
            f"supervisor.state_dir cannot change while the fleet runs ({running.supervisor.state_dir} ->"
            f" {config.supervisor.state_dir}); restart the service instead"
        )
        raise ConfigError(message, [message])
