"""Benchmark the raw archiver on a 1 GiB queue against `cp` + `sync` and `zstd -3 -T0`.

    .venv/bin/python bench/bench_archiver.py [--workdir DIR] [--segments 8] [--repeat 3]

Writes 8 x 128 MiB segments of 64-512 byte JSON-like payloads, then times, on the
same files in one run: `--once` copy mode, `--once --compress`, `cp` + `sync`, and
`zstd -3 -T0`. Prints each median wall time, peak RSS and the ratios.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.chronicle.records import SCANNER_IMPLEMENTATION
from supervisor_app.chronicle.segment import list_segment_ids, read_segment_header
from supervisor_app.chronicle.writer import QueueWriter
from supervisor_app.demo.payloads import market_payloads

SEGMENT_SIZE = 128 * 1024 * 1024
START_NS = 1_769_212_800_000_000_000


@dataclass(frozen=True)
class Timing:
    wall_s: float
    peak_rss_mib: float


def write_queue(queue: Path, segments: int) -> int:
    rng = random.Random(42)
    records = 0
    with QueueWriter(queue, segment_size=SEGMENT_SIZE, retention=False) as writer:
        while writer.current_segment_id < segments:
            batch = 10_000
            writer.append_many(
                market_payloads(rng, batch, first_seq=records),
                timestamps_ns=range(START_NS + records * 1000, START_NS + (records + batch) * 1000, 1000),
            )
            records += batch
    return records


def timed(cmd: list[str], rss_file: Path) -> Timing:
    """Wall time and peak RSS, after flushing earlier dirty pages.

    /usr/bin/time measures the RSS: Linux carries a parent's high-water mark across
    fork+exec, so wait4 from this (large) process would report our RSS, not the child's.
    """
    os.sync()
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{cmd} failed with exit code {result.returncode}")
    return Timing(wall, int(rss_file.read_text().split()[-1]) / 1024)


def reset(queue: Path, out: Path) -> None:
    shutil.rmtree(queue / "readers", ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()


def measure(name: str, runs: int, prepare, cmd: list[str], rss_file: Path) -> Timing:
    timings = []
    for _ in range(runs):
        prepare()
        timings.append(timed(cmd, rss_file))
    best = Timing(statistics.median(t.wall_s for t in timings), max(t.peak_rss_mib for t in timings))
    print(f"{name:<28} {best.wall_s:8.3f} s   peak RSS {best.peak_rss_mib:7.1f} MiB   (runs: {', '.join(f'{t.wall_s:.3f}' for t in timings)})", flush=True)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the queue (default: a temp dir)")
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-archiver-", dir=args.workdir))
    try:
        run(work, args.segments, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, segments: int, repeat: int) -> None:
    queue, out = work / "queue", work / "out"
    started = time.perf_counter()
    records = write_queue(queue, segments)
    sealed = [queue / f"{i:09d}.q" for i in list_segment_ids(queue) if read_segment_header(queue / f"{i:09d}.q").sealed]
    total = sum(p.stat().st_size for p in sealed)
    print(f"queue: {len(sealed)} sealed segments, {total / 2**30:.2f} GiB, ~{records / 1e6:.2f} M records, written in {time.perf_counter() - started:.1f} s")
    print(f"cores: {os.cpu_count()}   record scanner: {SCANNER_IMPLEMENTATION}   python: {sys.version.split()[0]}")
    archiver = [sys.executable, "-m", "supervisor_app.cli.archiver", "--source", str(queue), "--archive-root", str(out), "--venue", "bench", "--once"]
    prepare = lambda: reset(queue, out)  # noqa: E731
    rss = work / "rss"
    cp_and_sync = ["sh", "-c", 'cp "$@" && sync', "cp-sync", *map(str, sealed), str(out)]

    copy = measure("archiver --once (copy)", repeat, prepare, archiver, rss)
    compress = measure("archiver --once --compress", repeat, prepare, [*archiver, "--compress"], rss)
    cp_sync = measure("cp + sync", repeat, prepare, cp_and_sync, rss)
    zstd = measure("zstd -3 -T0", repeat, prepare, ["zstd", "-3", "-T0", "-q", "-f", "--output-dir-flat", str(out), *map(str, sealed)], rss)

    print()
    print(f"copy mode / (cp + sync):        {copy.wall_s / cp_sync.wall_s:5.2f}x   (floor: <= 3.00x)")
    print(f"compress mode / zstd -3 -T0:    {compress.wall_s / zstd.wall_s:5.2f}x   (floor: <= 1.25x)")
    print(f"archiver peak RSS:              {max(copy.peak_rss_mib, compress.peak_rss_mib):5.1f} MiB (floor: < 100 MiB)")


if __name__ == "__main__":
    main()
