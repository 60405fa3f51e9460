"""A fleet config made ready for supervision: validated, rendered, read back and written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from supervisor_app.errors import ConfigError
from supervisor_app.fleet.config import FleetConfig
from supervisor_app.fleet.problems import Finding
from supervisor_app.fleet.render import RenderedFleet, check_read_back, render
from supervisor_app.fleet.state_files import StateFiles, make_private_dir
from supervisor_app.fleet.validation import (
    config_error,
    load_fleet_config,
    locate_findings,
)


def checked_fleet(path: Path) -> tuple[FleetConfig, RenderedFleet]:
    """Validate `path` as validate-config does, then render it; ConfigError with located problems."""
    config = load_fleet_config(path)
    try:
        return config, render(config)
    except ConfigError as error:
        raise _located(path, error) from None


def install(config: FleetConfig, rendered: RenderedFleet, path: Path) -> StateFiles:
    """Create the state and log directories, read the text back through supervisord, write supervisord.conf.

    `path` is the config file as the caller named it, for problems.
    """
    files = StateFiles(config.supervisor.state_dir)
    make_private_dir(files.root)
    if config.supervisor.logs.directory is not None:
        config.supervisor.logs.directory.mkdir(parents=True, exist_ok=True)
    try:
        check_read_back(config, rendered)
    except ConfigError as error:
        raise _located(path, error) from None
    write_private_file(files.supervisord_conf, rendered.text)
    return files


def write_private_file(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, mode 0600: supervisord never reads half a file."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _located(path: Path, error: ConfigError) -> ConfigError:
    """`error`'s Findings as problems at their line and column in the file."""
    findings = [finding for finding in error.problems if isinstance(finding, Finding)]
    return config_error(path, tuple(locate_findings(path, findings)))
