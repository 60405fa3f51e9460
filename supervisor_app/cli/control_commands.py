"""`status`, `start`, `stop`, `restart`, `reload`: talk to the running fleet; printing and exit codes only."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from supervisor_app.cli import exit_codes
from supervisor_app.cli.fleet_target import add_target, error, names_a_fleet, state_dir_from_args
from supervisor_app.cli.status_table import healthy, status_table
from supervisor_app.config.problems import problems_as_text
from supervisor_app.errors import ConfigError, ControlError
from supervisor_app.supervision import control
from supervisor_app.supervision.state_files import StateFiles

STATUS_TIMEOUT_S = 10.0
DEFAULT_COMMAND_TIMEOUT_S = 120.0  # a stop waits for archivers to finish their segment
EXIT_NOT_HEALTHY = 3  # supervisorctl's convention: some venue is not running (or, here, at risk)


def register(subparsers: Any) -> None:
    """Add this module's subcommands to the `chronicle-fleet` parser."""
    status_parser = subparsers.add_parser(
        "status",
        help="show every venue: state, pid, restarts, lag, heartbeat, risks (exit 0 healthy, 3 not)",
        description="Show every enabled venue. Exit 0 when every one is running and none is at risk, 3 otherwise, "
        "1 when the fleet does not answer, 2 when no fleet is named.",
    )
    add_target(status_parser)
    status_parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status_parser.set_defaults(handler=status)

    for name, text in (("start", "start"), ("stop", "stop (SIGTERM, then the stop timeout)"), ("restart", "restart")):
        parser = subparsers.add_parser(
            name, help=f"{text} only the named venues (or --all); the others are not touched"
        )
        add_target(parser)
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("venues", nargs="*", default=[], metavar="VENUE", help="a venue name")
        which.add_argument("--all", action="store_true", help="every enabled venue")
        _add_timeout(parser)
        parser.set_defaults(handler=venue_command, op=name)

    reload_parser = subparsers.add_parser(
        "reload",
        help="apply a changed config to the running fleet (invalid: nothing changes)",
        description="Validate FILE; then added venues start, removed venues stop, changed venues restart and "
        "unchanged venues keep running untouched.",
    )
    reload_parser.add_argument("-c", "--config", type=Path, required=True, metavar="FILE", help="the fleet config")
    _add_timeout(reload_parser)
    reload_parser.set_defaults(handler=reload)


def _add_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_COMMAND_TIMEOUT_S, help="seconds to wait for the answer (default 120)"
    )


def status(args: argparse.Namespace) -> int:
    """Print every venue's state; 0 healthy, 3 not, 1 no answer, 2 no fleet named."""
    if not names_a_fleet(args):
        error("status: " + "say which fleet: -c FILE, --state-dir DIR, or $CHRONICLE_FLEET_CONFIG")
        return exit_codes.USAGE
    reply = _ask_target(args, {"op": "status"}, STATUS_TIMEOUT_S)
    if reply is None:
        return exit_codes.FAILURE
    fleet, venues = reply.get("fleet", {}), reply["venues"]
    if args.json:
        print(json.dumps({"fleet": fleet, "healthy": healthy(venues), "venues": venues}, indent=2))
    else:
        print(status_table(fleet, venues))
    return exit_codes.OK if healthy(venues) else EXIT_NOT_HEALTHY


def venue_command(args: argparse.Namespace) -> int:
    """start/stop/restart the named venues (or all); 0 when every one ended as asked."""
    if args.all and args.venues:
        error(f"{args.op}: give venue names or --all, not both")
        return exit_codes.USAGE
    if not names_a_fleet(args):
        error(f"{args.op}: say which fleet: -c FILE, --state-dir DIR, or $CHRONICLE_FLEET_CONFIG")
        return exit_codes.USAGE
    message: dict[str, Any] = {"op": args.op, "all": True} if args.all else {"op": args.op, "venues": args.venues}
    reply = _ask_target(args, message, args.timeout)
    if reply is None:
        return exit_codes.FAILURE
    for venue in reply.get("venues", []):
        _print_outcome(venue)
    return exit_codes.OK if reply.get("ok") else exit_codes.FAILURE


def reload(args: argparse.Namespace) -> int:
    """Validate FILE here, then have the running fleet apply it; 1 (and no change) if invalid."""
    from supervisor_app.supervision.install import prepare

    try:
        config, _ = prepare(args.config)
    except ConfigError as problem:
        print(problems_as_text(problem.problems))
        error("the config is invalid; nothing was changed")
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
    state_dir = state_dir_from_args(args)
    return None if state_dir is None else _ask(state_dir, message, timeout_s)


def _ask(state_dir: Path, message: dict[str, Any], timeout_s: float) -> dict[str, Any] | None:
    """The fleet's reply, or None after printing why there is none (or why it refused)."""
    try:
        reply = control.request(StateFiles(state_dir).control_socket, message, timeout_s)
    except ControlError as problem:
        error(str(problem))
        return None
    if not reply.get("ok") and "venues" not in reply:
        for line in reply.get("problems", []):
            print(line)
        error(str(reply.get("error", "the fleet refused the request")))
        return None
    return reply


def _print_outcome(venue: dict[str, Any]) -> None:
    pid = f" (pid {venue['pid']})" if venue.get("pid") else ""
    line = f"{venue['venue']}: {venue['state']}{pid}"
    if venue.get("held_reason"):
        line += f": {venue['held_reason']}"
    print(line, file=sys.stdout if venue.get("ok", True) else sys.stderr)
