"""What `loss_counts` (status and metrics, per venue) costs as a venue's archive grows: partitions, not segments.

    .venv/bin/python bench/bench_loss_counts.py [--workdir DIR] [--partitions 365] [--segments-per-partition 1000]

Builds one venue's archive of `--partitions` daily partitions, each with a v2 meta.json
counting `--segments-per-partition` segments (two of them corrupt, with their sidecars;
the other sidecars are not written: loss_counts must not read them), plus 50 missing
segments, 3 queue resets and an acknowledgement of half of everything. Prints the median
and p90 time of `loss_counts` (every summary read) and of a TotalsReader's repeated calls
(summaries read again only when changed), for that venue and one with 10 times fewer
partitions, to show how the cost scales.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.losses import acknowledge_losses, parse_selection
from supervisor_app.archive.meta import ArchivedFile, PartitionSummary, SegmentEntry, sidecar_bytes, summary_bytes
from supervisor_app.archive.totals import TotalsReader, loss_counts

START = dt.date(2025, 1, 1)
REPEATS = 200


def build(root: Path, venue: str, partitions: int, per_partition: int) -> ArchiveLayout:
    layout = ArchiveLayout(root, venue)
    for day in range(partitions):
        directory = layout.partition_dir((START + dt.timedelta(days=day)).isoformat())
        directory.mkdir(parents=True)
        summary = PartitionSummary(venue=venue, ingest_time_ns=1)
        first = day * per_partition
        for offset in range(per_partition):
            corrupt = offset < 2
            entry = SegmentEntry(
                segment_id=first + offset,
                raw_size=64,
                raw_crc32=0,
                record_count=0,
                event_time_range=None,
                files=(ArchivedFile(f"{first + offset:09d}.q", 64),),
                zstd=None,
                archived_at_ns=1,
                bad_record_count=1 if corrupt else 0,
                first_bad_offset=64 if corrupt else None,
                dated_by="mtime",
            )
            summary = summary.with_entry(entry, None)
            if corrupt:
                (directory / f"{entry.segment_id:09d}.meta.json").write_bytes(sidecar_bytes(entry))
        (directory / "meta.json").write_bytes(summary_bytes(summary))
    missing = [{"segment_id": i, "detected_at_ns": i} for i in range(50)]
    layout.missing_segments_path.write_text(json.dumps({"venue": venue, "missing_segments": missing}))
    resets = [
        {"detected_at_ns": i, "previous_position": 10, "oldest_segment": 0, "newest_segment": 5, "source": "/q"}
        for i in range(3)
    ]
    layout.queue_resets_path.write_text(json.dumps({"venue": venue, "queue_resets": resets}))
    half = partitions * per_partition // 2
    acknowledge_losses(layout, parse_selection(f"0-{half}"), by="bench", reason=None, now_ns=1)
    return layout


def timed(count: Callable[[ArchiveLayout], object], layout: ArchiveLayout) -> list[float]:
    count(layout)  # warm the page cache (and the counter's), as a status poll every second would
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        count(layout)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--partitions", type=int, default=365)
    parser.add_argument("--segments-per-partition", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        root = Path(tmp)
        small = build(root, "small", max(1, args.partitions // 10), args.segments_per_partition)
        large = build(root, "large", args.partitions, args.segments_per_partition)
        print(f"loss_counts({large.venue}) = {loss_counts(large)}")
        for layout, partitions in ((small, max(1, args.partitions // 10)), (large, args.partitions)):
            reader = TotalsReader()
            for name, count in (("loss_counts", loss_counts), ("TotalsReader.totals", reader.totals)):
                samples = timed(count, layout)
                segments = partitions * args.segments_per_partition
                median = statistics.median(samples) * 1e3
                p90 = statistics.quantiles(samples, n=10)[-1] * 1e3
                print(
                    f"{name:>18}: {partitions:4d} partitions, {segments:9,d} segments: median {median:6.2f} ms, "
                    f"p90 {p90:6.2f} ms per call ({median / partitions * 1e3:5.1f} us per partition)"
                )


if __name__ == "__main__":
    main()
