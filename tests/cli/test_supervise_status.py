"""`chronicle-fleet status` figures against a real queue: lag, heartbeat age, last archived segment."""

from __future__ import annotations

import json

import pytest

from supervisor_app.chronicle.reader_position import load_position, position_path
from supervisor_app.chronicle.writer import QueueWriter
from tests.archive.queue_builders import write_queue
from tests.cli.fleet_runner import FleetLauncher, fleet_yaml, wait_until

pytestmark = pytest.mark.slow
SEGMENT = 64 * 1024


def archive_status(fleet, venue: str) -> dict:  # type: ignore[no-untyped-def]
    result = fleet.ctl("status", "--json")
    reply = json.loads(result.stdout)
    assert result.returncode == (0 if reply["healthy"] else 3), result.stderr
    return next(v for v in reply["venues"] if v["venue"] == venue)["archive"]


def test_status_shows_lag_heartbeat_and_last_archived(launcher: FleetLauncher) -> None:
    root = launcher.root()
    queue = root / "bus/streams/raw/alpha/queue"
    write_queue(queue, segments=4, segment_size=SEGMENT)
    fleet = launcher.start(
        root, fleet_yaml(root, [{"name": "alpha", "bus": "main"}], defaults={"archiver": {"poll_interval": "50ms"}})
    )
    caught_up = wait_until(
        lambda: (a := archive_status(fleet, "alpha"))["position_segment"] == 4 and a,
        timeout=20,
        what="segments 0-3 archived",
    )
    assert caught_up["last_archived_segment"] == 3 and caught_up["last_archived_at"]
    assert caught_up["segments_behind"] == 0 and caught_up["risks"] == []
    assert caught_up["heartbeat_age_s"] < 5

    # Stopped by an operator while the writer seals three more: lag grows, the lease keeps it fresh.
    assert fleet.ctl("stop", "alpha").returncode == 0
    with QueueWriter(queue, segment_size=SEGMENT, retention=False) as writer:
        for _ in range(3):
            writer.roll()
    beat_after_stop = load_position(position_path(queue, "raw-archiver")).heartbeat_ns
    wait_until(
        lambda: load_position(position_path(queue, "raw-archiver")).heartbeat_ns > beat_after_stop,
        timeout=10,
        what="a lease heartbeat",
    )
    stopped = archive_status(fleet, "alpha")
    assert stopped["segments_behind"] == 4  # 4 (PAD-repaired on reopen) and the three rolls 5, 6, 7
    assert stopped["bytes_behind"] == 4 * SEGMENT
    assert stopped["heartbeat_age_s"] < 10 and stopped["position_segment"] == 4

    table = fleet.ctl("status").stdout
    assert "4 seg/0.2 MiB" in table and "3 at " in table
