"""Scraping the fleet's metrics at 64 and 500 venues: HTTP scrape time and size, and the archive watch's round.

The venues are real: a queue with sealed segments, a registered reader and an archive
per venue, all read by the real ArchiveWatch; the engine's side (states, restart counts)
is a fake FleetView, as no supervisord is needed to render what a scrape shows.
Floor: one scrape under 100 ms at 500 venues.

    .venv/bin/python bench/bench_metrics.py [--venues 64,500] [--scrapes 50] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from supervisor_app.archive.archiver import ArchiverConfig, RawArchiver
from supervisor_app.config.model import MetricsSettings, VenueConfig
from supervisor_app.supervision.plugins.archive_watch import ArchiveWatch, VenueWatch
from supervisor_app.supervision.plugins.metrics import FleetMetrics, MetricsExporter
from supervisor_app.supervision.venue import Venue
from supervisor_app.supervision.venue_records import VenueRecords
from tests.archive.queue_builders import write_queue

SEGMENT = 64 * 1024


@dataclass
class FakeFleet:
    """The engine as the metrics see it."""

    venues: Mapping[str, Venue]
    watch: ArchiveWatch
    shutting_down: bool = False

    def archive_snapshot(self) -> Mapping[str, VenueWatch]:
        return self.watch.snapshot()


def build(workdir: Path, count: int) -> tuple[Path, list[VenueConfig]]:
    """`count` venues, each with 3 sealed segments of which 2 archived (a lag of one)."""
    root = workdir / f"archive-{count}"
    root.mkdir()
    venues = []
    template = workdir / "template-queue"
    if not template.exists():
        write_queue(template, segments=2, segment_size=SEGMENT)
    log = structlog.wrap_logger(structlog.testing.CapturingLogger())  # building the venues is not what is measured
    for number in range(count):
        name = f"venue-{number:03d}"
        queue = workdir / f"queues-{count}" / name
        shutil.copytree(template, queue)
        RawArchiver(ArchiverConfig(queue, root, name), log=log, stop=threading.Event()).run_once()
        venues.append(VenueConfig(name, queue, "queue"))
    return root, venues


def measure(workdir: Path, count: int, scrapes: int) -> None:
    built = time.monotonic()
    root, configs = build(workdir, count)
    print(f"{count} venues built in {time.monotonic() - built:.1f} s")
    watch = ArchiveWatch(root, configs, log=structlog.get_logger())
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        watch.observe()
        rounds.append(time.perf_counter() - started)
    records = VenueRecords(None, log=structlog.get_logger())
    for config in configs[::7]:
        records.count_restart(config.name, "signal")
    venues = {c.name: Venue(c, phase="running", pid=1000 + n, started_at=time.time()) for n, c in enumerate(configs)}
    metrics = FleetMetrics(records)
    metrics.on_step(FakeFleet(venues, watch))
    port = _free_port()
    exporter = MetricsExporter(MetricsSettings(listen=("127.0.0.1", port)), metrics, log=structlog.get_logger())
    exporter.start()
    times, size = [], 0
    try:
        for _ in range(scrapes):
            started = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                size = len(response.read())
            times.append(time.perf_counter() - started)
    finally:
        exporter.close()
    times.sort()
    print(
        f"{count} venues: scrape median {statistics.median(times) * 1e3:.1f} ms, "
        f"p95 {times[int(len(times) * 0.95) - 1] * 1e3:.1f} ms, max {times[-1] * 1e3:.1f} ms, "
        f"{size / 1024:.0f} KiB; archive watch round (first, then cached) "
        f"{rounds[0] * 1e3:.0f} ms, median {statistics.median(rounds[1:]) * 1e3:.0f} ms"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venues", default="64,500")
    parser.add_argument("--scrapes", type=int, default=50)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-metrics-", dir=args.workdir))
    try:
        for count in (int(v) for v in args.venues.split(",")):
            measure(workdir, count, args.scrapes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
