"""Checks beyond the schema, on the typed config resolved from data the schema may also reject: nothing crashes, each finding points right."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor_app.config.problems import Finding
from supervisor_app.config.resolve import Resolved, resolve
from supervisor_app.config.semantics import (
    duplicate_venue_names,
    overlapping_paths,
    restart_delays,
    semantic_findings,
    shared_reader_positions,
)

CONFIG = Path("/etc/fleet/fleet.yaml")


def typed(data: object) -> Resolved:
    return resolve(data, CONFIG)


def unknown_buses(data: object) -> list[Finding]:
    """Resolution itself finds a bus that is not declared."""
    return [f for f in typed(data).findings if "unknown bus" in f.message]


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "text",
        {"venues": "x"},
        {"venues": [None, 3, []]},
        {"buses": [1]},
        {"restart": "x"},
        {"supervisor": {"state_dir": 3}},
        {"venues": [{"name": 5, "bus": ["x"], "queue": {}}]},
        {"archive_root": "", "buses": {"a": "\0"}},
    ],
)
def test_malformed_data_gives_no_findings_and_no_crash(data: object) -> None:
    assert semantic_findings(typed(data)) == []


def test_duplicate_names_point_at_each_repeat() -> None:
    data = {"venues": [{"name": n, "queue": "q" + n} for n in ("a", "b", "a", "a")]}
    assert [f.path for f in duplicate_venue_names(typed(data))] == [("venues", 2, "name"), ("venues", 3, "name")]


def test_unknown_bus_lists_the_declared_ones() -> None:
    (finding,) = unknown_buses({"buses": {"main": "/b", "aux": "/c"}, "venues": [{"name": "a", "bus": "mian"}]})
    assert finding == Finding(("venues", 0, "bus"), "unknown bus 'mian' (declared buses: 'main', 'aux')")


def test_unknown_bus_when_none_are_declared() -> None:
    (finding,) = unknown_buses({"venues": [{"name": "a", "bus": "main"}]})
    assert finding.message == "unknown bus 'main' (declared buses: none)"


def test_one_queue_with_two_reader_names_is_fine() -> None:
    data = {
        "buses": {"main": "/bus"},
        "venues": [
            {"name": "a", "bus": "main"},
            {"name": "a-copy", "queue": "/bus/streams/raw/a/queue", "archiver": {"reader_name": "copy"}},
        ],
    }
    assert list(shared_reader_positions(typed(data))) == []


def test_one_queue_with_one_reader_name_from_the_fleet_default_is_not() -> None:
    data = {
        "defaults": {"archiver": {"reader_name": "arch"}},
        "venues": [{"name": "a", "queue": "q"}, {"name": "b", "queue": "./q/"}],
    }
    (finding,) = shared_reader_positions(typed(data))
    assert finding.path == ("venues", 1, "queue")
    assert "same reader name 'arch'" in finding.message


def test_a_log_dir_named_stdout_is_not_a_path() -> None:
    data = {"buses": {"main": "/etc/fleet"}, "supervisor": {"state_dir": "/var/state", "log_dir": "stdout"}}
    assert list(overlapping_paths(typed(data))) == []


def test_sibling_directories_with_a_common_prefix_do_not_overlap() -> None:
    data = {"archive_root": "/srv/bus-archive", "buses": {"main": "/srv/bus"}, "supervisor": {"state_dir": "/srv/bus2"}}
    assert list(overlapping_paths(typed(data))) == []


@pytest.mark.parametrize(
    ("restart", "finding"),
    [
        (
            {"initial_delay": "5s", "max_delay": "2s"},
            Finding(("restart", "max_delay"), "max_delay (2s) is less than initial_delay (5s)"),
        ),
        (
            {"initial_delay": "2m"},
            Finding(("restart", "initial_delay"), "max_delay (1m) is less than initial_delay (2m)"),
        ),
    ],
)
def test_max_delay_below_initial_delay(restart: dict[str, object], finding: Finding) -> None:
    assert list(restart_delays(typed({"restart": restart}))) == [finding]


@pytest.mark.parametrize(
    "restart", [{"initial_delay": "5s", "max_delay": "5s"}, {"max_delay": 0.5, "initial_delay": 0.5}, {}]
)
def test_equal_or_default_delays_are_fine(restart: dict[str, object]) -> None:
    assert list(restart_delays(typed({"restart": restart}))) == []
