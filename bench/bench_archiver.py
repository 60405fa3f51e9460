"""Benchmark the raw archiver on a 1 GiB queue against `cp` + `sync` and `zstd -3 -T0`.

    .venv/bin/python bench/bench_archiver.py [--workdir DIR] [--segments 8] [--repeat 5]

Writes 8 x 128 MiB segments of 64-512 byte JSON-like payloads, then, round after round on
the same files, runs each of: `--once` copy mode, `cp` + `sync`, `--once --compress`,
`zstd -3 -T0`, `zstd -3 -T0` at nice 10, and both archiver modes without resource flags.
The archiver runs with the fleet's default share of the host, as `chronicle-fleet run`
starts it: nice 10, best-effort I/O at level 7, compression on the cores it may use, at
most 4. Prints each command's median wall, user and system seconds and peak RSS, then the
medians of the per-round ratios: on a shared machine, the commands of one round meet the
same load. With other work on the machine, nice 10 yields CPU to it by design: the ratios
at equal priority (no flags; zstd at nice 10) are the archiver's own cost, the others add that.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from common import archiver_cmd, bench_main, interleaved, print_medians, ratio_line, reset, sealed_segments, write_queue

from supervisor_app.archive.seekable_zstd import default_compress_threads
from supervisor_app.chronicle.records import SCANNER_IMPLEMENTATION
from supervisor_app.config.model import ResourceLimits


def fleet_default_flags() -> list[str]:
    """The resource flags `chronicle-fleet run` gives an archiver whose venue sets none."""
    limits = ResourceLimits()
    return ["--nice", str(limits.nice), "--io-class", limits.io_class, "--io-level", str(limits.io_level)]


def run(work: Path, segments: int, repeat: int) -> None:
    queue, out = work / "queue", work / "out"
    started = time.perf_counter()
    records = write_queue(queue, segments)
    sealed = sealed_segments(queue)
    total = sum(p.stat().st_size for p in sealed)
    print(
        f"queue: {len(sealed)} sealed segments, {total / 2**30:.2f} GiB, ~{records / 1e6:.2f} M records, written in {time.perf_counter() - started:.1f} s"
    )
    print(
        f"cores: {len(os.sched_getaffinity(0))} usable   archiver compression threads by default:"
        f" {default_compress_threads()}   record scanner: {SCANNER_IMPLEMENTATION}   python: {sys.version.split()[0]}"
    )
    print(f"archiver flags: {' '.join(fleet_default_flags())}")
    archiver = [*archiver_cmd(queue, out), *fleet_default_flags()]
    zstd = ["zstd", "-3", "-T0", "-q", "-f", "--output-dir-flat", str(out), *map(str, sealed)]
    commands = {
        "archiver --once (copy)": archiver,
        "cp + sync": ["sh", "-c", 'cp "$@" && sync', "cp-sync", *map(str, sealed), str(out)],
        "archiver --once --compress": [*archiver, "--compress"],
        "zstd -3 -T0": zstd,
        "nice -n 10 zstd -3 -T0": ["nice", "-n", str(ResourceLimits().nice), *zstd],
        "archiver --compress, no resource flags": [*archiver_cmd(queue, out), "--compress"],
        "archiver (copy), no resource flags": archiver_cmd(queue, out),
    }
    timings = interleaved(repeat, lambda: reset(queue, out), commands, work / "rss")

    print()
    print_medians(timings)
    print()
    ratio_line("copy mode / (cp + sync):", timings["archiver --once (copy)"], timings["cp + sync"], 3.0)
    ratio_line(
        "copy without resource flags / (cp + sync):",
        timings["archiver (copy), no resource flags"],
        timings["cp + sync"],
    )
    ratio_line("compress mode / zstd -3 -T0:", timings["archiver --once --compress"], timings["zstd -3 -T0"], 1.25)
    ratio_line(
        "compress mode / zstd -3 -T0 at nice 10:",
        timings["archiver --once --compress"],
        timings["nice -n 10 zstd -3 -T0"],
    )
    ratio_line(
        "compress without resource flags / zstd -3 -T0:",
        timings["archiver --compress, no resource flags"],
        timings["zstd -3 -T0"],
    )
    peak = max(t.peak_rss_mib for name, runs in timings.items() if name.startswith("archiver") for t in runs)
    print(f"{'archiver peak RSS:':<44} {peak:5.1f} MiB (floor: < 100 MiB)")


if __name__ == "__main__":
    bench_main(__doc__, "bench-archiver-", run)
