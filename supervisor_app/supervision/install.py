"""A fleet config made ready for supervision: validated, rendered, read back (`prepare`), then written (`install`)."""

from __future__ import annotations

from pathlib import Path

from supervisor_app.config.model import FleetConfig
from supervisor_app.config.problems import Finding
from supervisor_app.durable import write_file_atomically
from supervisor_app.errors import ConfigError
from supervisor_app.supervision.render import RenderedFleet, check_read_back, render
from supervisor_app.supervision.state_files import StateFiles, make_log_dir, make_private_dir

PRIVATE_FILE_MODE = 0o600  # supervisord.conf names every path of the fleet


def prepare(path: Path) -> tuple[FleetConfig, RenderedFleet]:
    """Validate `path` as validate-config does (with this host's checks), render it and read it back through
    supervisord's own parser; ConfigError with every problem at its line.

    Loads the validator (YAML, jsonschema) and supervisord's parser: `run` calls it through
    `prepare_child`, in a process of its own.
    """
    from supervisor_app.config.validation import load_fleet_config

    config = load_fleet_config(path, on_host=True)
    try:
        rendered = render(config)
        make_directories(config)  # supervisord's parser insists that they exist
        check_read_back(config, rendered)
    except ConfigError as error:
        raise _located(path, error) from None
    return config, rendered


def install(config: FleetConfig, rendered: RenderedFleet, path: Path) -> StateFiles:
    """Write a prepared supervisord.conf where supervisord reads it (the state and log directories made first).

    `path` is the config file as the caller named it (the engine's install callback shape).
    """
    files = make_directories(config)
    write_file_atomically(files.supervisord_conf, rendered.text.encode(), mode=PRIVATE_FILE_MODE)
    return files


def make_directories(config: FleetConfig) -> StateFiles:
    """The private state directory and the venue log directory, created if need be."""
    files = StateFiles(config.supervisor.state_dir)
    make_private_dir(files.root)
    if config.supervisor.logs.directory is not None:
        make_log_dir(config.supervisor.logs.directory)
    return files


def _located(path: Path, error: ConfigError) -> ConfigError:
    """`error`'s Findings as problems at their line and column in the file."""
    from supervisor_app.config.validation import config_error, locate_findings

    findings = [finding for finding in error.problems if isinstance(finding, Finding)]
    return config_error(path, tuple(locate_findings(path, findings)))
