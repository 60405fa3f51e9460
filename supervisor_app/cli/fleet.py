"""`chronicle-fleet`: one subcommand per operator task; parsing and exit codes only."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from supervisor_app.cli import (
    config_commands,
    control_commands,
    demo_command,
    run_command,
    verify_command,
)
from supervisor_app.cli.version import version_line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chronicle-fleet",
        description="Declare, validate and supervise a fleet of chronicle raw archivers.",
    )
    parser.add_argument("--version", action="version", version=version_line("chronicle-fleet"))
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (config_commands, verify_command, run_command, control_commands, demo_command):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
