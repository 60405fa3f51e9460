"""ReaderLeases: heartbeats for venues whose archiver is not running, never moving them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import structlog

from supervisor_app.chronicle.reader_position import load_position, position_path
from supervisor_app.config.model import VenueConfig
from supervisor_app.supervision.plugins.reader_leases import ReaderLeases
from tests.archive.queue_builders import write_queue


class Clocks:
    def __init__(self) -> None:
        self.wall_ns = 1_800_000_000 * 10**9
        self.mono = 100.0

    def advance(self, seconds: float) -> None:
        self.wall_ns += int(seconds * 1e9)
        self.mono += seconds


def leases(clocks: Clocks) -> ReaderLeases:
    return ReaderLeases(
        log=structlog.get_logger(), interval_s=2.0, clock=lambda: clocks.wall_ns, monotonic=lambda: clocks.mono
    )


def venue(tmp_path: Path, name: str = "alpha") -> VenueConfig:
    queue = tmp_path / name / "queue"
    write_queue(queue, segments=3, segment_size=64 * 1024)
    return VenueConfig(name=name, queue_dir=queue, source="queue")


def test_a_lease_registers_at_the_oldest_segment_and_beats_each_interval(tmp_path: Path) -> None:
    clocks, alpha = Clocks(), venue(tmp_path)
    (alpha.queue_dir / "000000000.q").unlink()
    keeper = leases(clocks)
    keeper.hold([alpha])
    path = position_path(alpha.queue_dir, "raw-archiver")
    first = load_position(path)
    assert (first.segment_id, first.heartbeat_ns) == (1, clocks.wall_ns)

    clocks.advance(1.0)
    keeper.hold([alpha])
    assert load_position(path).heartbeat_ns == first.heartbeat_ns  # not yet due
    clocks.advance(1.5)
    keeper.hold([alpha])
    beat = load_position(path)
    assert beat.heartbeat_ns == clocks.wall_ns and beat.segment_id == 1


def test_releasing_and_disabled_venues_stop_the_beats(tmp_path: Path) -> None:
    clocks, alpha, beta = Clocks(), venue(tmp_path, "alpha"), venue(tmp_path, "beta")
    keeper = leases(clocks)
    with structlog.testing.capture_logs() as logs:
        keeper.hold([alpha, replace(beta, enabled=False)])
        assert keeper.held == {"alpha"}
        assert not position_path(beta.queue_dir, "raw-archiver").exists()
        before = load_position(position_path(alpha.queue_dir, "raw-archiver"))
        keeper.hold([])
        clocks.advance(10)
        keeper.hold([])
    assert keeper.held == frozenset()
    assert load_position(position_path(alpha.queue_dir, "raw-archiver")) == before
    assert [e["event"] for e in logs] == ["lease_held", "lease_released"]


def test_a_venue_without_a_queue_is_left_alone(tmp_path: Path) -> None:
    ghost = VenueConfig(name="ghost", queue_dir=tmp_path / "nope" / "queue", source="queue")
    leases(Clocks()).hold([ghost])
    assert not (tmp_path / "nope").exists()
