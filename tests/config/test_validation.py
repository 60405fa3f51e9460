"""The public entry points: every problem at once, ConfigError, and the shipped example configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor_app.config import (
    Finding,
    Problem,
    check_fleet_config,
    fleet_config_problems,
    load_fleet_config,
    locate_findings,
)
from supervisor_app.demo.workspace import DEMO_VENUES
from supervisor_app.errors import ConfigError
from tests.config.sample_configs import MINIMAL, write_config

REPO = Path(__file__).resolve().parents[2]

TWO_PROBLEMS = (
    MINIMAL
    + """\
    compression: {level: 30}
  - name: okx
    queue: r
"""
)


def test_every_problem_is_reported_in_position_order(tmp_path: Path) -> None:
    problems = fleet_config_problems(write_config(tmp_path, TWO_PROBLEMS))
    assert [(p.line, p.column, p.path) for p in problems] == [
        (8, 26, "venues[0].compression.level"),
        (9, 11, "venues[1].name"),
    ]
    assert all(isinstance(p, Problem) for p in problems)


def test_load_raises_config_error_carrying_every_problem(tmp_path: Path) -> None:
    path = write_config(tmp_path, TWO_PROBLEMS)
    with pytest.raises(ConfigError) as raised:
        load_fleet_config(path)
    assert raised.value.problems == fleet_config_problems(path)
    lines = str(raised.value).splitlines()
    assert lines[0] == f"{path}: invalid fleet configuration (2 problems)"
    assert lines[1:] == [str(p) for p in raised.value.problems]


def test_problems_name_the_file_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, TWO_PROBLEMS)
    monkeypatch.chdir(tmp_path)
    assert {p.file for p in fleet_config_problems(Path("fleet.yaml"))} == {"fleet.yaml"}


def test_a_valid_config_has_a_config_and_no_problems(tmp_path: Path) -> None:
    checked = check_fleet_config(
        write_config(
            tmp_path,
            TWO_PROBLEMS.replace("level: 30", "level: 19").replace("name: okx\n    queue: r", "name: cb\n    queue: r"),
        )
    )
    assert checked.problems == ()
    assert checked.config is not None and [v.name for v in checked.config.venues] == ["okx", "cb"]


@pytest.mark.parametrize("name", ["fleet.example.yaml", "demo.yaml"])
def test_shipped_configs_are_valid(name: str) -> None:
    assert fleet_config_problems(REPO / "configs" / name) == []


def test_example_config_shows_each_kind_of_venue() -> None:
    config = load_fleet_config(REPO / "configs" / "fleet.example.yaml")
    sources = {venue.source for venue in config.venues}
    assert sources == {"bus:main", "queue"}
    assert any(not venue.enabled for venue in config.venues)
    assert len({venue.archiver.reader_name for venue in config.venues}) == 2
    assert config.supervisor.logs.directory == Path("/var/log/chronicle-fleet")


def test_demo_config_is_what_the_demo_command_expects() -> None:
    config = load_fleet_config(REPO / "configs" / "demo.yaml")
    work = REPO / "demo-work"
    assert [venue.name for venue in config.venues] == list(DEMO_VENUES)
    assert {venue.source for venue in config.venues} == {"bus:demo"}
    assert config.buses[0].root == work / "bus"
    assert (config.archive_root, config.supervisor.state_dir, config.supervisor.logs.directory) == (
        work / "archive",
        work / "state",
        work / "logs",
    )
    assert config.compression.codec == "zstd"
    assert (config.restart.initial_delay_s, config.restart.max_delay_s, config.restart.healthy_after_s) == (
        0.5,
        5.0,
        10.0,
    )


def test_findings_made_after_loading_are_placed_at_their_lines(tmp_path: Path) -> None:
    path = write_config(tmp_path, TWO_PROBLEMS)
    findings = [
        Finding(("venues", 1, "name"), "later"),
        Finding(("supervisor", "state_dir"), "too long"),
        Finding((), "whole"),
    ]
    located = locate_findings(path, findings)
    assert [str(p) for p in located] == [
        f"{path}:1:1: whole",
        f"{path}:4:14: supervisor.state_dir: too long",
        f"{path}:9:11: venues[1].name: later",
    ]
