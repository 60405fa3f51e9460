"""Archive 100,000 tiny segments into one partition: the cost per segment must not grow with the partition.

    .venv/bin/python bench/bench_partition.py [--workdir DIR] [--queue-parent DIR] [--segments 100000] [--window 1000]

Writes the segments with the project's QueueWriter (4 KiB, one record each, all on one UTC
day, so all land in one partition), then runs `chronicle-raw-archiver --once` over them as a
subprocess and times each `segment_archived` log line as it arrives. Prints the mean cost per
segment over the first and the last `--window` segments, the archiver's RSS after the first
window and after the last segment, and its peak RSS. Floor: last <= 1.5x first; RSS flat.
The queue goes under --queue-parent (default /dev/shm when present: writing it is not what is
measured); the archive under --workdir.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import archiver_cmd

from supervisor_app.chronicle.writer import QueueWriter

START_NS = 1_769_212_800_000_000_000  # 2026-01-24T00:00Z
SEGMENT_SIZE = 4096
EVENT = b'"event": "segment_archived"'


@dataclass(frozen=True)
class Run:
    arrivals: list[float]  # when each segment_archived line was read
    rss_at_window_kib: int
    rss_at_end_kib: int
    peak_rss_kib: int


def write_queue(queue: Path, segments: int) -> None:
    with QueueWriter(queue, segment_size=SEGMENT_SIZE, retention=False) as writer:
        for i in range(segments):
            writer.append(b'{"px": 101.25, "qty": 3}', timestamp_ns=START_NS + i * 1000)
            writer.roll()


def proc_status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def archive(queue: Path, out: Path, segments: int, window: int) -> Run:
    """Run the archiver once over the queue, reading its log as it goes."""
    cmd = [*archiver_cmd(queue, out), "--log-format", "json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    arrivals: list[float] = []
    rss_window = rss_end = peak = 0
    for line in proc.stderr:
        if EVENT not in line:
            continue
        arrivals.append(time.perf_counter())
        if len(arrivals) == window:
            rss_window = proc_status_kib(proc.pid, "VmRSS")
        if len(arrivals) == segments:
            rss_end, peak = proc_status_kib(proc.pid, "VmRSS"), proc_status_kib(proc.pid, "VmHWM")
    if proc.wait() != 0 or len(arrivals) != segments:
        raise SystemExit(f"archiver exited {proc.returncode} after {len(arrivals)} of {segments} segments")
    return Run(arrivals, rss_window, rss_end, peak)


def costs_ms(arrivals: list[float], first: int, count: int) -> tuple[float, float]:
    """(mean, median) time between consecutive segments `first`..`first + count`: the archiver's pace there."""
    deltas = [
        b - a for a, b in zip(arrivals[first : first + count], arrivals[first + 1 : first + count + 1], strict=False)
    ]
    return statistics.fmean(deltas) * 1000, statistics.median(deltas) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None, help="where the archive goes (default: a temp dir)")
    shm = Path("/dev/shm")
    parser.add_argument("--queue-parent", type=Path, default=shm if shm.is_dir() else None, help="where the queue goes")
    parser.add_argument("--segments", type=int, default=100_000, help="segments to archive (default 100000)")
    parser.add_argument("--window", type=int, default=1000, help="segments averaged at each end (default 1000)")
    args = parser.parse_args()
    if args.segments < 2 * args.window + 1:
        parser.error("--segments must exceed twice --window")
    work = Path(tempfile.mkdtemp(prefix="bench-partition-", dir=args.workdir))
    queue_home = Path(tempfile.mkdtemp(prefix="bench-partition-queue-", dir=args.queue_parent))
    try:
        queue, out = queue_home / "queue", work / "out"
        out.mkdir()
        started = time.perf_counter()
        write_queue(queue, args.segments)
        print(
            f"queue: {args.segments} sealed {SEGMENT_SIZE}-byte segments in {queue} ({time.perf_counter() - started:.0f} s)"
        )
        print(f"archive: {out}   cores: {os.cpu_count()}   python: {sys.version.split()[0]}", flush=True)
        started = time.perf_counter()
        run = archive(queue, out, args.segments, args.window)
        total = time.perf_counter() - started
        partitions = [p for p in (out / "raw/v1/bench").iterdir() if not p.name.startswith(".")]
        first, first_median = costs_ms(run.arrivals, 0, args.window)
        last, last_median = costs_ms(run.arrivals, args.segments - args.window - 1, args.window)
        print(f"archived {args.segments} segments into {len(partitions)} partition(s) in {total:.0f} s")
        print(f"per segment, first {args.window}:   mean {first:7.2f} ms   median {first_median:7.2f} ms")
        print(
            f"per segment, last {args.window}:    mean {last:7.2f} ms   median {last_median:7.2f} ms   "
            f"ratio of means {last / first:.2f}x (floor: <= 1.50x), of medians {last_median / first_median:.2f}x"
        )
        print(f"RSS after {args.window}:        {run.rss_at_window_kib / 1024:7.1f} MiB")
        print(
            f"RSS after {args.segments}:      {run.rss_at_end_kib / 1024:7.1f} MiB   peak {run.peak_rss_kib / 1024:.1f} MiB"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(queue_home, ignore_errors=True)


if __name__ == "__main__":
    main()
