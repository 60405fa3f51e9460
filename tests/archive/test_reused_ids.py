"""Two queues archived under one venue name, their ids on other dates: verify warns of every id archived twice."""

from __future__ import annotations

import threading
from pathlib import Path

import structlog

from supervisor_app.archive.archiver import ArchiverConfig, RawArchiver
from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.resets import QueueReset, record_reset
from supervisor_app.archive.reused_ids import Span, reused_ids
from supervisor_app.archive.verify import verify_archive
from tests.archive.queue_builders import START_NS, write_queue

DAY_NS = 86_400 * 1_000_000_000
VENUE = "binance-perp"


def _archive_queue(queue: Path, root: Path, *, day: int, seed: int) -> None:
    """Three sealed segments dated `day` days after 2026-01-24, archived into `root` under VENUE."""
    write_queue(queue, segments=3, segment_size=64 * 1024, seed=seed, start_ns=START_NS + day * DAY_NS)
    config = ArchiverConfig(source=queue, archive_root=root, venue=VENUE)
    RawArchiver(config, log=structlog.get_logger(), stop=threading.Event()).run_once()


def test_a_second_queue_under_the_same_venue_is_a_warning_for_each_id(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    _archive_queue(tmp_path / "first", root, day=0, seed=1)
    _archive_queue(tmp_path / "second", root, day=1, seed=2)
    report = verify_archive(root)
    assert report.problems == ()  # nothing is lost: both queues are archived whole
    assert report.segments == 6
    reused = [w for w in report.warnings if "also archived" in w.message]
    assert [w.path.name for w in reused] == [f"00000000{i}.meta.json" for i in range(3)]
    assert all("2026-01-25" in str(w.path) and "under 2026-01-24" in w.message for w in reused)
    assert "give each queue a venue of its own" in reused[0].message


def test_verifying_one_date_looks_only_at_that_date(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    _archive_queue(tmp_path / "first", root, day=0, seed=1)
    _archive_queue(tmp_path / "second", root, day=1, seed=2)
    assert [w for w in verify_archive(root, date="2026-01-25").warnings if "also archived" in w.message] == []


def test_a_recorded_queue_reset_explains_the_reused_ids(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    _archive_queue(tmp_path / "first", root, day=0, seed=1)
    _archive_queue(tmp_path / "second", root, day=1, seed=2)
    reset = QueueReset(START_NS + DAY_NS, previous_position=3, oldest_segment=0, newest_segment=2, source="q")
    record_reset(ArchiveLayout(root, VENUE).queue_resets_path, VENUE, reset)
    report = verify_archive(root)
    assert [w for w in report.warnings if "also archived" in w.message] == []
    assert any("restarted its segment ids" in p.message for p in report.problems)  # still a loss to acknowledge


def test_partitions_with_disjoint_ranges_are_never_opened() -> None:
    opened: list[tuple[str, int]] = []
    spans = [Span("2026-01-24", 0, 9), Span("2026-01-25", 10, 19), Span("2026-01-26", 20, 20)]
    found = reused_ids(
        spans,
        ids_of=lambda date: opened.append((date, -1)) or [],
        entry_of=lambda date, segment_id: opened.append((date, segment_id)),
        resets=[],
    )
    assert found == [] and opened == []
