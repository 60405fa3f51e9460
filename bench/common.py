"""Shared pieces of the benchmarks: a 1 GiB queue, and timing a command with its peak RSS."""

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.chronicle.segment import list_segment_ids, read_segment_header, segment_name
from supervisor_app.chronicle.writer import QueueWriter
from supervisor_app.demo.payloads import market_payloads

SEGMENT_SIZE = 128 * 1024 * 1024
START_NS = 1_769_212_800_000_000_000


@dataclass(frozen=True)
class Timing:
    wall_s: float
    peak_rss_mib: float
    user_s: float = 0.0
    sys_s: float = 0.0


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
    """Wall time, peak RSS and user/system CPU seconds, after flushing earlier dirty pages.

    /usr/bin/time measures the RSS: Linux carries a parent's high-water mark across
    fork+exec, so wait4 from this (large) process would report our RSS, not the child's.
    """
    os.sync()
    started = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M %U %S", "-o", str(rss_file), *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{cmd} failed with exit code {result.returncode}")
    rss_kib, user, system = rss_file.read_text().split()[-3:]
    return Timing(wall, int(rss_kib) / 1024, float(user), float(system))


def archiver_cmd(queue: Path, archive: Path, *extra: str) -> list[str]:
    """`chronicle-raw-archiver --once` for venue `bench`, from this interpreter."""
    archiver = [sys.executable, "-m", "supervisor_app.cli.archiver"]
    return [*archiver, "--source", str(queue), "--archive-root", str(archive), "--venue", "bench", "--once", *extra]


def reset(queue: Path, out: Path) -> None:
    """Forget a previous run: no reader registered, an empty output directory."""
    shutil.rmtree(queue / "readers", ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()


def sealed_segments(queue: Path) -> list[Path]:
    paths = [queue / segment_name(i) for i in list_segment_ids(queue)]
    return [p for p in paths if read_segment_header(p).sealed]


def measure(name: str, runs: int, prepare: Callable[[], None], cmd: list[str], rss_file: Path) -> Timing:
    """Run `cmd` `runs` times after `prepare`; print and return the median wall time and the peak RSS."""
    timings = []
    for _ in range(runs):
        prepare()
        timings.append(timed(cmd, rss_file))
    best = Timing(statistics.median(t.wall_s for t in timings), max(t.peak_rss_mib for t in timings))
    print(
        f"{name:<28} {best.wall_s:8.3f} s   peak RSS {best.peak_rss_mib:7.1f} MiB   (runs: {', '.join(f'{t.wall_s:.3f}' for t in timings)})",
        flush=True,
    )
    return best


def interleaved(
    rounds: int, prepare: Callable[[], None], commands: dict[str, list[str]], rss_file: Path
) -> dict[str, list[Timing]]:
    """Each command once per round, in turn, `rounds` times: on a shared machine, every command meets the same noise.

    Compare commands by the ratio within each round, not by the ratio of their medians.
    """
    timings: dict[str, list[Timing]] = {name: [] for name in commands}
    for number in range(rounds):
        for name, cmd in commands.items():
            prepare()
            timing = timed(cmd, rss_file)
            timings[name].append(timing)
            print(
                f"  round {number + 1}/{rounds}  {name:<34} {timing.wall_s:7.3f} s"
                f"  user {timing.user_s:6.2f} s  sys {timing.sys_s:5.2f} s  peak RSS {timing.peak_rss_mib:6.1f} MiB",
                flush=True,
            )
    return timings


def print_medians(timings: dict[str, list[Timing]]) -> None:
    """One line per command: median wall, user and system seconds, peak RSS."""
    for name, runs in timings.items():
        print(
            f"{name:<34} {statistics.median(t.wall_s for t in runs):7.3f} s"
            f"  user {statistics.median(t.user_s for t in runs):6.2f} s"
            f"  sys {statistics.median(t.sys_s for t in runs):5.2f} s"
            f"  peak RSS {max(t.peak_rss_mib for t in runs):6.1f} MiB   (medians of {len(runs)})"
        )


def ratio_line(label: str, runs: list[Timing], baselines: list[Timing], floor: float | None = None) -> float:
    """Print and return the median of the per-round wall-time ratios."""
    ratios = [run.wall_s / base.wall_s for run, base in zip(runs, baselines, strict=True)]
    median = statistics.median(ratios)
    bound = "" if floor is None else f"  (floor: <= {floor:.2f}x)"
    rounds = ", ".join(f"{r:.2f}" for r in ratios)
    print(f"{label:<44} {median:5.2f}x{bound}   per round: {rounds}")
    return median


def bench_main(doc: str, prefix: str, run: Callable[[Path, int, int], None]) -> None:
    """The benchmarks' shared command line: a scratch directory, a queue size, a repeat count."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the queue (default: a temp dir)")
    parser.add_argument("--segments", type=int, default=8, help="128 MiB segments to write (default 8: 1 GiB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs (rounds) of each command; medians are reported")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=args.workdir))
    try:
        run(work, args.segments, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def install_fresh(work: Path) -> str:
    """A virtualenv with this checkout installed as a release would be (not editable)."""
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    repo = Path(__file__).resolve().parents[1]
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-qq", str(repo)], check=True)
    return str(venv / "bin/python")
