"""Which venues a reload touches: a venue changes when its settings or its rendered program do."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from supervisor_app.config.model import (
    ArchiverSettings,
    FleetConfig,
    RestartPolicy,
    SupervisorSettings,
    VenueConfig,
)
from supervisor_app.supervision.fleet_diff import FleetDiff, diff_fleets
from supervisor_app.supervision.render import render


def _config(venues: tuple[VenueConfig, ...], **changes: object) -> FleetConfig:
    base = FleetConfig(
        path=Path("/f/fleet.yaml"),
        archive_root=Path("/f/archive"),
        venues=venues,
        supervisor=SupervisorSettings(state_dir=Path("/f/state")),
    )
    return dataclasses.replace(base, **changes)


A, B, C = (VenueConfig(n, Path(f"/f/bus/streams/raw/{n}/queue"), "bus:main") for n in ("a", "b", "c"))


def _diff(old: FleetConfig, new: FleetConfig) -> FleetDiff:
    return diff_fleets(old, render(old), new, render(new))


def test_added_removed_changed_and_unchanged_venues() -> None:
    old = _config((A, B, C))
    new = _config(
        (dataclasses.replace(A, archiver=ArchiverSettings(poll_ms=50)), B, VenueConfig("d", Path("/f/d"), "queue"))
    )
    assert _diff(old, new) == FleetDiff(added=("d",), removed=("c",), changed=("a",), unchanged=("b",))


def test_disabling_a_venue_removes_it_and_enabling_adds_it() -> None:
    old = _config((A, B))
    new = _config((A, dataclasses.replace(B, enabled=False)))
    assert _diff(old, new) == FleetDiff((), ("b",), (), ("a",))
    assert _diff(new, old) == FleetDiff(("b",), (), (), ("a",))


def test_fleet_wide_settings_that_reach_the_program_change_every_venue() -> None:
    old = _config((A, B))
    assert _diff(old, dataclasses.replace(old, archive_root=Path("/g/archive"))).changed == ("a", "b")
    longer_stop = dataclasses.replace(old, supervisor=SupervisorSettings(state_dir=Path("/f/state"), stop_timeout_s=90))
    assert _diff(old, longer_stop).changed == ("a", "b")


def test_the_restart_policy_changes_no_program() -> None:
    old = _config((A, B))
    new = dataclasses.replace(old, restart=RestartPolicy(initial_delay_s=5.0))
    assert _diff(old, new) == FleetDiff((), (), (), ("a", "b"))


def test_a_change_only_in_how_the_queue_was_named_still_counts() -> None:
    old = _config((A,))
    new = _config((dataclasses.replace(A, source="queue"),))
    assert _diff(old, new).changed == ("a",)
