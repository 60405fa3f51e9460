"""Fixtures of the end-to-end CLI tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli.fleet_runner import FleetLauncher, assert_all_json


@pytest.fixture
def launcher() -> Iterator[FleetLauncher]:
    """Fleets for one test: all stopped afterwards, and every line they logged checked to be JSON."""
    fleets = FleetLauncher()
    try:
        yield fleets
        fleets.stop_all()
        for fleet in fleets.fleets:
            assert_all_json(fleet)
    finally:
        fleets.stop_all()
        fleets.remove_roots()
