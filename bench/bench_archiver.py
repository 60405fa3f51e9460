"""Benchmark the raw archiver on a 1 GiB queue against `cp` + `sync` and `zstd -3 -T0`.

    .venv/bin/python bench/bench_archiver.py [--workdir DIR] [--segments 8] [--repeat 3]

Writes 8 x 128 MiB segments of 64-512 byte JSON-like payloads, then times, on the
same files in one run: `--once` copy mode, `--once --compress`, `cp` + `sync`, and
`zstd -3 -T0`. Prints each median wall time, peak RSS and the ratios.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from common import archiver_cmd, bench_main, measure, reset, sealed_segments, write_queue

from supervisor_app.chronicle.records import SCANNER_IMPLEMENTATION


def run(work: Path, segments: int, repeat: int) -> None:
    queue, out = work / "queue", work / "out"
    started = time.perf_counter()
    records = write_queue(queue, segments)
    sealed = sealed_segments(queue)
    total = sum(p.stat().st_size for p in sealed)
    print(
        f"queue: {len(sealed)} sealed segments, {total / 2**30:.2f} GiB, ~{records / 1e6:.2f} M records, written in {time.perf_counter() - started:.1f} s"
    )
    print(f"cores: {os.cpu_count()}   record scanner: {SCANNER_IMPLEMENTATION}   python: {sys.version.split()[0]}")
    archiver = archiver_cmd(queue, out)
    prepare = lambda: reset(queue, out)
    rss = work / "rss"
    cp_and_sync = ["sh", "-c", 'cp "$@" && sync', "cp-sync", *map(str, sealed), str(out)]

    copy = measure("archiver --once (copy)", repeat, prepare, archiver, rss)
    compress = measure("archiver --once --compress", repeat, prepare, [*archiver, "--compress"], rss)
    cp_sync = measure("cp + sync", repeat, prepare, cp_and_sync, rss)
    zstd = measure(
        "zstd -3 -T0",
        repeat,
        prepare,
        ["zstd", "-3", "-T0", "-q", "-f", "--output-dir-flat", str(out), *map(str, sealed)],
        rss,
    )

    print()
    print(f"copy mode / (cp + sync):        {copy.wall_s / cp_sync.wall_s:5.2f}x   (floor: <= 3.00x)")
    print(f"compress mode / zstd -3 -T0:    {compress.wall_s / zstd.wall_s:5.2f}x   (floor: <= 1.25x)")
    print(
        f"archiver peak RSS:              {max(copy.peak_rss_mib, compress.peak_rss_mib):5.1f} MiB (floor: < 100 MiB)"
    )


if __name__ == "__main__":
    bench_main(__doc__, "bench-archiver-", run)
