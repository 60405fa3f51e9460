"""A fleet config made ready for supervision: validated, rendered, read back and written."""

from __future__ import annotations

from pathlib import Path

from supervisor_app.config.model import FleetConfig
from supervisor_app.config.problems import Finding
from supervisor_app.config.validation import (
    config_error,
    load_fleet_config,
    locate_findings,
)
from supervisor_app.durable import write_file_atomically
from supervisor_app.errors import ConfigError
from supervisor_app.supervision.render import RenderedFleet, check_read_back, render
from supervisor_app.supervision.state_files import StateFiles, make_log_dir, make_private_dir

PRIVATE_FILE_MODE = 0o600  # supervisord.conf names every path of the fleet


def checked_fleet(path: Path) -> tuple[FleetConfig, RenderedFleet]:
    """Validate `path` as validate-config does, then render it; ConfigError with located problems."""
    config = load_fleet_config(path, on_host=True)
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
        make_log_dir(config.supervisor.logs.directory)
    try:
        check_read_back(config, rendered)
    except ConfigError as error:
        raise _located(path, error) from None
    write_file_atomically(files.supervisord_conf, rendered.text.encode(), mode=PRIVATE_FILE_MODE)
    return files


def _located(path: Path, error: ConfigError) -> ConfigError:
    """`error`'s Findings as problems at their line and column in the file."""
    findings = [finding for finding in error.problems if isinstance(finding, Finding)]
    return config_error(path, tuple(locate_findings(path, findings)))
