"""While an archiver is held, the supervisor's lease keeps retention from eating its backlog."""

from __future__ import annotations

import time

import pytest

from supervisor_app.chronicle.reader_position import load_position, position_path
from supervisor_app.chronicle.retention import RetentionRule
from supervisor_app.chronicle.segment import list_segment_ids
from tests.archive.archive_checks import (
    archived_segment_ids,
    assert_final_files_are_whole,
)
from tests.archive.queue_builders import LiveWriter
from tests.cli.fleet_runner import FleetLauncher, fleet_yaml, wait_until

pytestmark = pytest.mark.slow

# The writer's 30 s reader timeout, scaled down so the test waits seconds, not minutes, yet
# still well above the lease's 2 s beat plus the engine's tick.
TIMEOUT_S = 6.0
HELD_FOR_S = 2 * TIMEOUT_S


def test_a_held_venue_loses_nothing_while_the_writer_keeps_rolling(launcher: FleetLauncher) -> None:
    root = launcher.root()
    queue = root / "bus/streams/raw/held/queue"
    # Someone else's segment 3 in the archive: our archiver must refuse it (exit 78) and be held.
    conflict = root / "archive/raw/v1/held/2026-01-24/raw/000000003.q"
    conflict.parent.mkdir(parents=True)
    conflict.write_bytes(b"not this queue's segment 3")
    writer = LiveWriter(queue, rule=RetentionRule(reader_timeout_ns=int(TIMEOUT_S * 1e9)), pause_s=0.05)
    writer.start()
    try:
        fleet = launcher.start(
            root,
            fleet_yaml(root, [{"name": "held", "bus": "main"}], defaults={"compression": {"codec": "none"}}),
            wait_for=(),
        )
        wait_until(
            lambda: (fleet.try_status() or {}).get("held", {}).get("state") == "held",
            timeout=20,
            what="the venue to be held",
        )
        [held] = fleet.events("held", "held")
        assert "000000003.q already exists with different bytes" in held["reason"]

        held_until = time.monotonic() + HELD_FOR_S
        reader = position_path(queue, "raw-archiver")
        while time.monotonic() < held_until:
            position = load_position(reader)
            assert position.segment_id == 3  # the lease never moves it
            assert time.time_ns() - position.heartbeat_ns < TIMEOUT_S * 1e9, "the held reader went stale"
            assert fleet.status()["held"]["state"] == "held"
            time.sleep(0.5)
        assert writer.highest_sealed > 3 + 20  # the writer rolled all along
        assert min(list_segment_ids(queue)) == 3  # retention kept everything not archived

        conflict.unlink()  # the operator fixes the cause, then releases the venue
        started = fleet.ctl("start", "held")
        assert started.returncode == 0, started.stdout + started.stderr
    finally:
        writer.stop.set()
        writer.join(timeout=10)
    wait_until(
        lambda: load_position(position_path(queue, "raw-archiver")).segment_id > writer.highest_sealed,
        timeout=60,
        what="the archiver to catch up",
    )
    assert fleet.terminate() == 0

    assert archived_segment_ids(root / "archive") == set(range(writer.highest_sealed + 1))
    assert not (root / "archive/raw/v1/held/missing-segments.json").exists()
    assert_final_files_are_whole(root / "archive", writer.sealed)
    assert fleet.events("lease_held", "held")
