"""`run`, `status`, `start`, `stop`, `restart`, `reload`: argument parsing, printing and exit codes only."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from supervisor_app.cli import exit_codes
from supervisor_app.config.model import FleetConfig
from supervisor_app.config.problems import problems_as_text
from supervisor_app.config.validation import load_fleet_config
from supervisor_app.errors import ConfigError, ControlError, SupervisordError
from supervisor_app.file_lock import exclusive_lock
from supervisor_app.logs import configure_logging, log_uncaught_exceptions
from supervisor_app.supervision import control
from supervisor_app.supervision.engine import Engine
from supervisor_app.supervision.install import checked_fleet, install
from supervisor_app.supervision.render import RenderedFleet
from supervisor_app.supervision.state_files import StateFiles, make_private_dir
from supervisor_app.supervision.status_report import with_archive_progress
from supervisor_app.supervision.supervisord.client import SupervisordClient
from supervisor_app.supervision.supervisord.process import SupervisordProcess, stop_orphans
from supervisor_app.supervision.wakeup import Wakeup

CONFIG_ENV = "CHRONICLE_FLEET_CONFIG"
SUPERVISORD_START_TIMEOUT_S = 20.0
STATUS_TIMEOUT_S = 10.0
DEFAULT_COMMAND_TIMEOUT_S = 120.0  # a stop waits for archivers to finish their segment


def register(subparsers: Any) -> None:
    """Add this module's subcommands to the `chronicle-fleet` parser."""
    run_parser = subparsers.add_parser(
        "run",
        help="supervise one archiver per enabled venue (in the foreground, e.g. under systemd)",
        description="Validate the config, render supervisord's config into the state directory and run supervisord "
        "with one archiver per enabled venue. SIGTERM/SIGINT stop every archiver cleanly; SIGHUP reloads the config.",
    )
    _add_config(run_parser)
    run_parser.set_defaults(handler=run)

    status_parser = subparsers.add_parser(
        "status", help="show every venue: state, pid, uptime, restarts, last exit, next retry"
    )
    _add_target(status_parser)
    status_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status_parser.set_defaults(handler=status)

    for name, text in (("start", "start"), ("stop", "stop (SIGTERM, then the stop timeout)"), ("restart", "restart")):
        parser = subparsers.add_parser(name, help=f"{text} only the named venues; the others are not touched")
        _add_target(parser)
        parser.add_argument("venues", nargs="+", metavar="VENUE", help="a venue name")
        _add_timeout(parser)
        parser.set_defaults(handler=venue_command, op=name)

    reload_parser = subparsers.add_parser(
        "reload",
        help="apply a changed config to the running fleet (invalid: nothing changes)",
        description="Validate FILE; then added venues start, removed venues stop, changed venues restart and "
        "unchanged venues keep running untouched.",
    )
    _add_config(reload_parser)
    _add_timeout(reload_parser)
    reload_parser.set_defaults(handler=reload)


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", type=Path, required=True, metavar="FILE", help="the fleet config (YAML)")


def _add_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_COMMAND_TIMEOUT_S, help="seconds to wait for the answer (default 120)"
    )


def _add_target(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-c", "--config", type=Path, metavar="FILE", help=f"the fleet config (default: ${CONFIG_ENV})")
    group.add_argument("--state-dir", type=Path, metavar="DIR", help="the running fleet's state directory")


# ---- run ----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Supervise the fleet until SIGTERM/SIGINT; 0 after a clean stop."""
    log = configure_logging(sys.stderr, component="supervisor", venue=None)
    log_uncaught_exceptions(log)  # a traceback in any thread must not break the JSON stream
    try:
        config, rendered = checked_fleet(args.config)
    except ConfigError as error:
        return _config_invalid(error, log)
    try:
        return _supervise(args.config, config, rendered, log)
    except ConfigError as error:
        return _config_invalid(error, log)
    except ControlError as error:
        log.error("run_refused", error=str(error))
        return exit_codes.FAILURE
    except SupervisordError as error:
        log.error("supervisord_failed", error=str(error))
        return exit_codes.TEMPFAIL
    except OSError as error:
        log.error("run_failed", error=str(error), exc_info=True)
        return exit_codes.TEMPFAIL


def _config_invalid(error: ConfigError, log: Any) -> int:
    """The same problem lines as validate-config on stdout, and one JSON event on stderr."""
    print(problems_as_text(error.problems))
    log.error("config_invalid", problems=[str(p) for p in error.problems], action="nothing was started or changed")
    return exit_codes.FAILURE


def _supervise(path: Path, config: FleetConfig, rendered: RenderedFleet, log: Any) -> int:
    files = StateFiles(config.supervisor.state_dir)
    make_private_dir(files.root)
    with _exclusive(files.lock), contextlib.ExitStack() as cleanup:  # callbacks run last-in, first-out
        install(config, rendered, path)
        wakeup = Wakeup(files.wake_socket)  # bound before supervisord's plugin first pokes it
        cleanup.callback(wakeup.close)
        daemon = SupervisordProcess.start(files, log)
        client = SupervisordClient(files.supervisord_socket)
        cleanup.callback(_end_supervisord, daemon, client, config, log)
        engine = Engine(
            config,
            rendered,
            client,
            config_path=path.absolute(),
            prepare=checked_fleet,
            install=install,
            supervisord_alive=daemon.alive,
            waker=wakeup,
            log=log,
        )
        cleanup.enter_context(_signals_to(engine))
        daemon.wait_ready(client, SUPERVISORD_START_TIMEOUT_S, files.supervisord_log)
        server = control.ControlServer(files.control_socket, control.engine_handler(engine, _answer_timeout(config)))
        server.start()
        cleanup.callback(server.close)
        try:
            engine.run()
        except SupervisordError:
            stop_orphans(engine.running_pids(), config.supervisor.stop_timeout_s, log)
            raise
    log.info("run_finished")
    return exit_codes.OK


def _answer_timeout(config: FleetConfig) -> float:
    return config.supervisor.stop_timeout_s + 60.0


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """One `run` per state directory: a second one would fight over the sockets and programs."""
    busy = f"another `chronicle-fleet run` is using the state directory {lock.parent}"
    with exclusive_lock(lock, held_elsewhere=lambda: ControlError(busy), mode=0o600):
        yield


@contextlib.contextmanager
def _signals_to(engine: Engine) -> Iterator[None]:
    """SIGTERM/SIGINT ask the engine for a clean shutdown, SIGHUP for a reload."""
    wanted = {
        signal.SIGTERM: engine.request_shutdown,
        signal.SIGINT: engine.request_shutdown,
        signal.SIGHUP: engine.request_reload,
    }
    previous = {signum: signal.signal(signum, lambda *_, act=act: act()) for signum, act in wanted.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _end_supervisord(daemon: SupervisordProcess, client: SupervisordClient, config: FleetConfig, log: Any) -> None:
    """Make sure supervisord is gone (it stops any archiver still running first), killing it as a last resort."""
    if daemon.alive():
        with contextlib.suppress(SupervisordError):
            client.shutdown()
    code = daemon.wait(config.supervisor.stop_timeout_s + 10.0)
    if code is None:
        log.error("supervisord_killed", reason="it did not exit after shutdown")
        daemon.kill()
        code = daemon.wait(5.0)
    client.close()
    log.info("supervisord_exited", exit_code=code)


# ---- control commands -----------------------------------------------------------------


def status(args: argparse.Namespace) -> int:
    """Print every venue's state; 0 when the fleet answered."""
    reply = _ask_target(args, {"op": "status"}, STATUS_TIMEOUT_S)
    if reply is None:
        return exit_codes.FAILURE
    venues = with_archive_progress(reply["venues"], time.time_ns())
    if args.json:
        print(json.dumps(venues, indent=2))
    else:
        print(_status_table(venues))
    return exit_codes.OK


def venue_command(args: argparse.Namespace) -> int:
    """start/stop/restart the named venues; 0 when every one ended as asked."""
    reply = _ask_target(args, {"op": args.op, "venues": args.venues}, args.timeout)
    if reply is None:
        return exit_codes.FAILURE
    for venue in reply.get("venues", []):
        _print_outcome(venue)
    return exit_codes.OK if reply.get("ok") else exit_codes.FAILURE


def reload(args: argparse.Namespace) -> int:
    """Validate FILE here, then have the running fleet apply it; 1 (and no change) if invalid."""
    try:
        config, _ = checked_fleet(args.config)
    except ConfigError as error:
        print(problems_as_text(error.problems))
        _error("the config is invalid; nothing was changed")
        return exit_codes.FAILURE
    reply = _ask(config.supervisor.state_dir, {"op": "reload", "config": str(args.config.absolute())}, args.timeout)
    if reply is None:
        return exit_codes.FAILURE
    for key in ("added", "changed", "removed"):
        print(f"{key}: {', '.join(reply.get(key, [])) or '-'}")
    print(f"unchanged: {len(reply.get('unchanged', []))}")
    for venue in reply.get("venues", []):
        if not venue.get("ok", True):
            _print_outcome(venue)
    return exit_codes.OK if reply.get("ok") else exit_codes.FAILURE


def _ask_target(args: argparse.Namespace, message: dict[str, Any], timeout_s: float) -> dict[str, Any] | None:
    """_ask the fleet that -c, --state-dir or $CHRONICLE_FLEET_CONFIG names."""
    try:
        state_dir = _state_dir(args)
    except ConfigError as error:
        print(problems_as_text(error.problems))
        return None
    except ControlError as error:
        _error(str(error))
        return None
    return _ask(state_dir, message, timeout_s)


def _ask(state_dir: Path, message: dict[str, Any], timeout_s: float) -> dict[str, Any] | None:
    """The fleet's reply, or None after printing why there is none (or why it refused)."""
    try:
        reply = control.request(StateFiles(state_dir).control_socket, message, timeout_s)
    except ControlError as error:
        _error(str(error))
        return None
    if not reply.get("ok") and "venues" not in reply:
        for problem in reply.get("problems", []):
            print(problem)
        _error(str(reply.get("error", "the fleet refused the request")))
        return None
    return reply


def _state_dir(args: argparse.Namespace) -> Path:
    if args.state_dir is not None:
        return Path(args.state_dir)
    config = args.config or os.environ.get(CONFIG_ENV)
    if not config:
        raise ControlError(f"say which fleet: -c FILE, --state-dir DIR, or ${CONFIG_ENV}")
    return load_fleet_config(Path(config)).supervisor.state_dir


def _status_table(venues: list[dict[str, Any]]) -> str:
    rows = [("VENUE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT", "LAG", "HEARTBEAT", "LAST ARCHIVED", "NOTE")]
    rows += [
        (
            v["venue"],
            v["state"],
            str(v["pid"] or "-"),
            _duration(v["uptime_s"]),
            str(v["restarts"]),
            v["last_exit"]["description"] if v["last_exit"] else "-",
            *_archive_cells(v["archive"]),
            _note(v),
        )
        for v in venues
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)), row[-1]]).rstrip()
        for row in rows
    )


def _archive_cells(archive: dict[str, Any]) -> tuple[str, str, str]:
    if "error" in archive:
        return "?", "?", "?"
    lag = f"{archive['segments_behind']} seg/{archive['bytes_behind'] / 2**20:.1f} MiB"
    age = archive["heartbeat_age_s"]
    heartbeat = "-" if age is None else f"{age:.0f}s ago"
    last = (
        "-"
        if archive["last_archived_segment"] is None
        else f"{archive['last_archived_segment']} at {archive['last_archived_at']}"
    )
    return lag, heartbeat, last


def _note(venue: dict[str, Any]) -> str:
    risks = venue["archive"]["risks"]
    if risks:
        return "AT RISK: " + "; ".join(risks)
    if venue["held_reason"]:
        return f"held: {venue['held_reason']}"
    if venue["next_retry_at"]:
        return f"retry in {venue['next_retry_in_s']:.1f}s (at {venue['next_retry_at']}; {venue['failures']} failures in a row)"
    return ""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _print_outcome(venue: dict[str, Any]) -> None:
    pid = f" (pid {venue['pid']})" if venue.get("pid") else ""
    line = f"{venue['venue']}: {venue['state']}{pid}"
    if venue.get("held_reason"):
        line += f": {venue['held_reason']}"
    print(line, file=sys.stdout if venue.get("ok", True) else sys.stderr)


def _error(message: str) -> None:
    print(f"chronicle-fleet: {message}", file=sys.stderr)
