"""An archiver whose work hangs for good (its heartbeat thread alive) is killed as stalled under `run`, losing nothing."""

from __future__ import annotations

import time

import pytest

from supervisor_app.chronicle.reader_position import load_position
from supervisor_app.chronicle.segment import list_segment_ids
from tests.cli.archiving_venue import archiving_venue
from tests.cli.fleet_runner import FleetLauncher, json_lines, wait_until
from tests.hang import hang_environment, taken

pytestmark = pytest.mark.slow

# As in test_supervise_watchdogs: the writer's 30 s and the 10 s stall timeout, scaled down together.
WRITER_TIMEOUT_S = 12.0
STALL_TIMEOUT = "5s"
LIVENESS_TIMEOUT_S = 2.0  # the archiver's 60 s, scaled down with them


def test_a_write_that_hangs_for_good_stops_the_beats_and_the_watchdog_replaces_the_archiver(
    launcher: FleetLauncher, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = launcher.root()
    marker = root / "hang"
    for name, value in hang_environment(marker, root / "archive", liveness_timeout_s=LIVENESS_TIMEOUT_S).items():
        monkeypatch.setenv(name, value)  # inherited by run, supervisord and the archivers
    with archiving_venue(launcher, root, writer_timeout_s=WRITER_TIMEOUT_S, stall_timeout=STALL_TIMEOUT) as venue:
        fleet, reader, hung_pid = venue.fleet, venue.reader, venue.pid
        marker.touch()  # its next fsync in the archive never returns; SIGKILL is all that ends it
        wait_until(lambda: taken(marker).exists(), timeout=20, what="the write to hang")
        # Until the watchdog acts: the reader never goes stale for the writer.
        deadline = time.monotonic() + 60
        while not fleet.events("archiver_stalled", "hung"):
            assert time.time_ns() - load_position(reader).heartbeat_ns < WRITER_TIMEOUT_S * 1e9, "reader went stale"
            assert time.monotonic() < deadline, "the hung archiver was never seen as stalled"
            time.sleep(0.25)
        [stalled] = fleet.events("archiver_stalled", "hung")
        assert stalled["child_pid"] == hung_pid
        # The event is logged before the kill lands: wait for the replacement, not the hung one still listed.
        status = wait_until(
            lambda: (s := fleet.wait_running("hung")["hung"])["pid"] != hung_pid and s,
            timeout=30,
            what="the replacement running",
        )
        assert status["restarts_by_reason"] == {"stalled": 1}
        venue_log = json_lines(root / "logs/hung.log")
        [withheld] = [e for e in venue_log if e["event"] == "main_loop_stalled" and e["pid"] == hung_pid]
        assert withheld["level"] == "error"
    assert min(list_segment_ids(venue.queue)) > 0  # retention ran all along, behind the archiver
