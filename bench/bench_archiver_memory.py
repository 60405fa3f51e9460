"""An archiver's memory: idle before any work, idle after a burst of work, and its peak; copy and compress mode.

    .venv/bin/python bench/bench_archiver_memory.py [--segments 8] [--segment-mib 4] [--repeat 3] [--editable]

For each mode, `--repeat` times: an archiver in loop mode (`--poll-ms 200`,
`--refresh-when-idle 5`) on a queue with nothing sealed; its VmRSS after 3 s (fresh idle);
then a writer seals `--segments` segments of market-like records; once all are archived,
its VmRSS 3 s later (idle after work), its VmRSS once it has refreshed itself, 5 s after
the work (refreshed: the same process re-executed, as every archiver does after
`archiver.refresh_when_idle`, 1 min by default) and its VmHWM (peak). Medians printed.
Floors (issue "Scale"): idle <= 16 MiB, compress peak <= 40 MiB.

Runs from a fresh virtualenv with chronicle-fleet installed as a host has it (`pip
install .`), unless `--editable` (the checkout's own venv, whose import hooks cost ~2 MiB).
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import install_fresh

from supervisor_app.chronicle.writer import QueueWriter
from supervisor_app.demo.payloads import market_payloads

MIB = 1024 * 1024
FIELDS = ("fresh idle", "idle after work", "refreshed", "peak")
REFRESH_S = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--segment-mib", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--editable", action="store_true", help="run this checkout's venv, not a fresh install")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bam-", dir="/tmp"))
    try:
        python = sys.executable if args.editable else install_fresh(work)
        archiver = str(Path(python).parent / "chronicle-raw-archiver")
        print(f"archiver: {archiver}; {args.segments} x {args.segment_mib} MiB segments; medians of {args.repeat}")
        for mode in ("copy", "compress"):
            flags = ["--compress"] if mode == "compress" else []
            rounds = [
                one_round(work / f"{mode}-{i}", archiver, flags, args.segments, args.segment_mib * MIB)
                for i in range(args.repeat)
            ]
            figures = "   ".join(f"{f} {statistics.median(r[f] for r in rounds):5.1f} MiB" for f in FIELDS)
            print(f"{mode:9s} {figures}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def one_round(work: Path, archiver: str, flags: list[str], segments: int, segment_size: int) -> dict[str, float]:
    queue, archive = work / "queue", work / "archive"
    QueueWriter(queue, segment_size=segment_size, retention=False).close()
    cmd = [archiver, "--source", str(queue), "--archive-root", str(archive), "--venue", "v", "--poll-ms", "200"]
    cmd += ["--refresh-when-idle", str(REFRESH_S)]
    proc = subprocess.Popen([*cmd, *flags], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        fresh = status_mib(proc.pid, "VmRSS")
        write_segments(queue, segment_size, segments)
        wait_archived(archive, segments, proc)
        time.sleep(3)
        after_work, work_peak = status_mib(proc.pid, "VmRSS"), peak(proc.pid)  # an exec starts a new high-water mark
        time.sleep(REFRESH_S)
        refreshed = status_mib(proc.pid, "VmRSS")
        return {"fresh idle": fresh, "idle after work": after_work, "refreshed": refreshed, "peak": work_peak}
    finally:
        proc.terminate()
        proc.wait(30)


def write_segments(queue: Path, segment_size: int, segments: int) -> None:
    rng = random.Random(1)
    with QueueWriter(queue, segment_size=segment_size, retention=False) as writer:
        last = writer.current_segment_id + segments
        while writer.current_segment_id < last:
            writer.append_many(market_payloads(rng, 1000, first_seq=0))


def wait_archived(archive: Path, segments: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while len(list(archive.glob("raw/v1/v/*/raw/*.meta.json"))) < segments:  # a sidecar per archived segment
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the archiver did not archive {segments} segments (exit {proc.poll()})")
        time.sleep(0.2)


def status_mib(pid: int, field: str) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split(f"{field}:")[1].split()[0]) / 1024


def peak(pid: int) -> float:
    return status_mib(pid, "VmHWM")


if __name__ == "__main__":
    main()
