"""Which fleet a command means: `-c FILE`, `--state-dir DIR`, or `$CHRONICLE_FLEET_CONFIG`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from supervisor_app.config.problems import problems_as_text
from supervisor_app.errors import ConfigError

CONFIG_ENV = "CHRONICLE_FLEET_CONFIG"
NO_FLEET = f"say which fleet: -c FILE, --state-dir DIR, or ${CONFIG_ENV}"


def add_target(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-c", "--config", type=Path, metavar="FILE", help=f"the fleet config (default: ${CONFIG_ENV})")
    group.add_argument("--state-dir", type=Path, metavar="DIR", help="the running fleet's state directory")


def config_from_args(args: argparse.Namespace) -> Path | None:
    """The config file named by -c or the environment; None (after saying so) when there is none: a usage error."""
    config = args.config or os.environ.get(CONFIG_ENV)
    if not config:
        error(NO_FLEET)
        return None
    return Path(config)


def state_dir_from_args(args: argparse.Namespace) -> Path | None:
    """The state directory of the fleet the arguments name; None after printing why there is none.

    No fleet named at all is a usage error: callers tell it apart with `config_from_args`.
    """
    if args.state_dir is not None:
        return Path(args.state_dir)
    config = config_from_args(args)
    if config is None:
        return None
    from supervisor_app.config.validation import load_fleet_config  # the validator: only when a file is named

    try:
        return load_fleet_config(config).supervisor.state_dir
    except ConfigError as problem:
        print(problems_as_text(problem.problems))
        return None


def names_a_fleet(args: argparse.Namespace) -> bool:
    return args.state_dir is not None or bool(args.config or os.environ.get(CONFIG_ENV))


def error(message: str) -> None:
    print(f"chronicle-fleet: {message}", file=sys.stderr)
