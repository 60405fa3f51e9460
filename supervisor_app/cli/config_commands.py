"""`validate-config` and `show-config`: argument parsing, printing and exit codes only."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from supervisor_app.cli import exit_codes
from supervisor_app.config.problems import Problem, counted, problems_as_json, problems_as_text


def register(subparsers: Any) -> None:
    """Add this module's subcommands to the `chronicle-fleet` parser."""
    _register_validate(subparsers)
    _register_show(subparsers)


def _register_validate(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "validate-config",
        help="check fleet config files; exit 1 if any has a problem",
        description="Check fleet config files and report every problem as FILE:LINE:COLUMN: PATH: MESSAGE.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="a fleet config (YAML)")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="one line per problem (default) or a JSON array"
    )
    parser.add_argument(
        "--check-paths",
        action="store_true",
        help="also check that sources are readable and the archive root writable on this host (deploy time)",
    )
    parser.set_defaults(handler=validate_config)


def _register_show(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "show-config",
        help="print the resolved config (defaults applied, paths absolute) as JSON",
        description="Print the resolved fleet config as JSON: every default applied, every path absolute.",
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="a fleet config (YAML)")
    parser.set_defaults(handler=show_config)


def validate_config(args: argparse.Namespace) -> int:
    """Report the problems of every file; 0 when there are none."""
    from supervisor_app.config.validation import check_fleet_config  # YAML and jsonschema: only when used

    checked = [check_fleet_config(path, check_paths=args.check_paths) for path in args.files]
    problems = [problem for result in checked for problem in result.problems]
    if args.format == "json":
        print(problems_as_json(problems))
    elif problems:
        print(problems_as_text(problems))
    if args.format == "text":
        print(_summary(len(args.files), problems), file=sys.stderr)
    return exit_codes.FAILURE if problems else exit_codes.OK


def _summary(file_count: int, problems: list[Problem]) -> str:
    files = counted(file_count, "file")
    if not problems:
        return f"{files} valid"
    bad_files = len({problem.file for problem in problems})
    return f"{counted(len(problems), 'problem')} in {bad_files} of {files}"


def show_config(args: argparse.Namespace) -> int:
    """Print the resolved config as JSON, or its problems on stderr."""
    from supervisor_app.config.dump import config_as_data
    from supervisor_app.config.validation import check_fleet_config

    checked = check_fleet_config(args.file)
    if checked.config is None:
        print(problems_as_text(checked.problems), file=sys.stderr)
        return exit_codes.FAILURE
    print(json.dumps(config_as_data(checked.config), indent=2))
    return exit_codes.OK
