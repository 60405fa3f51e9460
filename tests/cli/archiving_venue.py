"""One venue archiving a live queue (retention on) under a real `run`, checked at the end to have lost nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.chronicle.reader_position import load_position, position_path
from supervisor_app.chronicle.retention import RetentionRule
from tests.archive.archive_checks import archived_segment_ids, assert_final_files_are_whole
from tests.archive.queue_builders import LiveWriter
from tests.cli.fleet_runner import FleetLauncher, RunningFleet, fleet_yaml, wait_until

VENUE = "hung"


@dataclass(frozen=True)
class ArchivingVenue:
    fleet: RunningFleet
    writer: LiveWriter
    queue: Path
    reader: Path  # its position file
    pid: int  # the archiver's, once it was archiving


@contextmanager
def archiving_venue(
    launcher: FleetLauncher, root: Path, *, writer_timeout_s: float, stall_timeout: str
) -> Iterator[ArchivingVenue]:
    """Yield once VENUE archives; then stop the feed, let the archive catch up, end `run`, and check the archive."""
    queue = root / f"bus/streams/raw/{VENUE}/queue"
    writer = LiveWriter(queue, rule=RetentionRule(reader_timeout_ns=int(writer_timeout_s * 1e9)), pause_s=0.05)
    writer.start()
    try:
        fleet = launcher.start(
            root,
            fleet_yaml(
                root,
                [{"name": VENUE, "bus": "main"}],
                defaults={"compression": {"codec": "none"}, "archiver": {"stall_timeout": stall_timeout}},
            ),
        )
        reader = position_path(queue, "raw-archiver")
        wait_until(lambda: reader.exists() and load_position(reader).segment_id > 2, timeout=30, what="archiving")
        yield ArchivingVenue(fleet, writer, queue, reader, fleet.status()[VENUE]["pid"])
        assert writer.highest_sealed > 20
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
    assert not (root / f"archive/raw/v1/{VENUE}/missing-segments.json").exists()
    assert_final_files_are_whole(root / "archive", writer.sealed)
