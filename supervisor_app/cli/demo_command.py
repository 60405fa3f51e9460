"""`chronicle-fleet demo`: the one-command tour of the product."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from supervisor_app.cli import exit_codes


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run three synthetic feeds and their archivers under the supervisor, kill one, show the result",
        description="Create a demo directory with a three-venue fleet config, run a synthetic feed per venue and the "
        "fleet under supervisord, kill one archiver 3 s in, then stop cleanly and print a per-venue summary.",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("demo-work"),
        help="demo directory (default ./demo-work; replaced if it holds an earlier demo)",
    )
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds to run before stopping (default 20; Ctrl-C stops early)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.duration <= 0:
        print("chronicle-fleet demo: --duration must be positive", file=sys.stderr)
        return exit_codes.USAGE
    try:
        from supervisor_app.demo.runner import run_demo  # the feeds and the whole fleet: only when asked

        result = run_demo(args.workdir, args.duration, sys.stdout)
    except (FileExistsError, RuntimeError) as exc:
        print(f"chronicle-fleet demo: {exc}", file=sys.stderr)
        return exit_codes.FAILURE
    return exit_codes.OK if result.ok else exit_codes.FAILURE
