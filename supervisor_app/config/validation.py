"""The one way a fleet config file is read: strict YAML, schema, cross-field checks, then types."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.config.host_checks import host_findings
from supervisor_app.config.ini_safety import ini_findings
from supervisor_app.config.loading import load_yaml
from supervisor_app.config.model import FleetConfig
from supervisor_app.config.path_checks import path_findings
from supervisor_app.config.problems import Finding, Problem, counted, problems_as_text
from supervisor_app.config.resolve import resolve
from supervisor_app.config.schema import fleet_validator
from supervisor_app.config.schema_findings import schema_findings
from supervisor_app.config.semantics import semantic_findings
from supervisor_app.errors import ConfigError


@dataclass(frozen=True)
class CheckedConfig:
    """The outcome of reading one file: the config when there is no problem, else the problems."""

    config: FleetConfig | None
    problems: tuple[Problem, ...]


def check_fleet_config(
    path: Path, *, check_paths: bool = False, on_host: bool = False, file: str | None = None
) -> CheckedConfig:
    """Read and check `path` completely; `file` is its name in problems (default: `path` as given).

    `on_host` adds what this host shows (one queue under two paths, missing cores), as
    `run` and `reload` need; `check_paths` adds that and the directories' existence and access.
    """
    loaded = load_yaml(path, file)
    if not loaded.usable:
        return CheckedConfig(None, loaded.problems)
    resolved = resolve(loaded.data, path)
    findings = schema_findings(loaded.data, loaded.positions, fleet_validator())
    findings += semantic_findings(resolved)
    if check_paths or on_host:
        findings += host_findings(resolved)
    if check_paths:
        findings += path_findings(resolved)
    fresh = (finding for finding in findings if finding.at_key or finding.target not in loaded.flagged)
    located = (loaded.positions.locate(finding, loaded.file) for finding in fresh)
    problems = tuple(sorted({*loaded.problems, *located}))
    if problems:
        return CheckedConfig(None, problems)
    # Values supervisord's INI would misread: caught here too, so CI rejects them before deploy.
    unsafe = tuple(sorted(loaded.positions.locate(finding, loaded.file) for finding in ini_findings(resolved.config)))
    return CheckedConfig(None, unsafe) if unsafe else CheckedConfig(resolved.config, ())


def locate_findings(path: Path, findings: Iterable[Finding], *, file: str | None = None) -> list[Problem]:
    """Findings made later on a loaded config (e.g. by the renderer), placed at their lines in its file."""
    loaded = load_yaml(path, file)
    return sorted(loaded.positions.locate(finding, loaded.file) for finding in findings)


def fleet_config_problems(path: Path, *, check_paths: bool = False) -> list[Problem]:
    """Every problem with the config at `path`, sorted by position; empty when it is valid."""
    return list(check_fleet_config(path, check_paths=check_paths).problems)


def load_fleet_config(path: Path, *, check_paths: bool = False, on_host: bool = False) -> FleetConfig:
    """The config at `path`; raises ConfigError listing every problem when it is not valid."""
    checked = check_fleet_config(path, check_paths=check_paths, on_host=on_host)
    if checked.config is None:
        raise config_error(path, checked.problems)
    return checked.config


def config_error(path: Path, problems: tuple[Problem, ...]) -> ConfigError:
    """A ConfigError whose message names the file and lists each problem on its own line."""
    message = f"{path}: invalid fleet configuration ({counted(len(problems), 'problem')})\n{problems_as_text(problems)}"
    return ConfigError(message, problems=list(problems))
