"""Benchmark the record scan of one 128 MiB segment: C with and without the CRC check, and pure Python.

    .venv/bin/python bench/bench_scan.py [--workdir DIR] [--repeat 7]

Writes one 128 MiB segment of the archiver benchmark's 64-512 byte JSON-like payloads,
reads it into memory, then scans it as staging does (consecutive windows of the default
staging window) with each scanner. Also times the whole-segment CRC-32 that staging
computes, with zlib.crc32 and with chronicle.crc32. Prints medians (GiB/s, us/record).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from common import sealed_segments, write_queue

from supervisor_app.archive.seekable_zstd import DEFAULT_BLOCK_SIZE, DEFAULT_LEVEL
from supervisor_app.archive.staging import StageOptions
from supervisor_app.chronicle.records import CRC32_METHOD, SCANNER_IMPLEMENTATION, RecordScanner, crc32


def scan(data: memoryview, window: int, *, use_c: bool, verify_crc: bool) -> int:
    scanner = RecordScanner(len(data), use_c=use_c, verify_crc=verify_crc)
    for base in range(0, len(data), window):
        scanner.feed(data[base : base + window], base)
    summary = scanner.summary()
    if summary.corrupt:
        raise SystemExit(f"the benchmark segment reads as corrupt: {summary}")
    return summary.record_count


def timed(label: str, runs: int, size: int, records: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    per_record = f"{median / records * 1e6:7.3f} us/record" if records else ""
    print(
        f"{label:<34} {median * 1e3:9.1f} ms  {size / median / 2**30:6.2f} GiB/s  {per_record}"
        f"   (runs: {', '.join(f'{t * 1e3:.1f}' for t in times)} ms)",
        flush=True,
    )
    return median


def run(work: Path, repeat: int) -> None:
    queue = work / "queue"
    started = time.perf_counter()
    write_queue(queue, 1)
    (segment,) = sealed_segments(queue)
    data = memoryview(segment.read_bytes())
    window = StageOptions(
        compress=False, retain_raw=False, level=DEFAULT_LEVEL, block_size=DEFAULT_BLOCK_SIZE
    ).window_size
    records = scan(data, window, use_c=False, verify_crc=False)
    print(
        f"segment: {len(data) / 2**20:.0f} MiB, {records} records, written in {time.perf_counter() - started:.1f} s;"
        f" window {window / 2**20:.0f} MiB"
    )
    print(
        f"cores: {os.cpu_count()}   scanner: {SCANNER_IMPLEMENTATION}   payload CRC-32: {CRC32_METHOD}"
        f"   python: {sys.version.split()[0]}"
    )
    size = len(data)
    figures = {}
    if SCANNER_IMPLEMENTATION == "c":
        figures["c"] = timed(
            "C scan, no CRC check", repeat, size, records, lambda: scan(data, window, use_c=True, verify_crc=False)
        )
        figures["c+crc"] = timed(
            "C scan + CRC check", repeat, size, records, lambda: scan(data, window, use_c=True, verify_crc=True)
        )
    py_runs = max(1, repeat // 3)
    figures["py"] = timed(
        "Python scan, no CRC check", py_runs, size, records, lambda: scan(data, window, use_c=False, verify_crc=False)
    )
    figures["py+crc"] = timed(
        "Python scan + CRC check", py_runs, size, records, lambda: scan(data, window, use_c=False, verify_crc=True)
    )
    figures["zlib"] = timed("segment CRC-32, zlib.crc32", repeat, size, 0, lambda: zlib.crc32(data))
    figures["crc32"] = timed("segment CRC-32, chronicle.crc32", repeat, size, 0, lambda: crc32(data))
    print()
    if "c" in figures:
        extra = (figures["c+crc"] - figures["c"]) / size * 2**30
        print(
            f"CRC check costs the C scan {extra * 1e3:.0f} ms per GiB; Python scan + CRC / C scan + CRC: {figures['py+crc'] / figures['c+crc']:.0f}x"
        )
    saved = (figures["zlib"] - figures["crc32"]) / size * 2**30
    print(f"staging's window CRC-32 through chronicle.crc32 instead of zlib.crc32 saves {saved * 1e3:.0f} ms per GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the segment (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=7, help="runs of each C measurement; the median is reported")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-scan-", dir=args.workdir))
    try:
        run(work, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
