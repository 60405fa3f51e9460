"""Benchmark `chronicle-fleet run` with 256 venues on one host, each with a small live queue.

    .venv/bin/python bench/bench_fleet.py [--venues 256] [--kills 20] [--idle-seconds 10] [--installed] [--verbose] [--keep]

Prints: the time from starting `run` to every archiver running (floor: 30 s); the
supervisor side's (run + supervisord) CPU and RSS while idle (floors: under 5 % of a core
together; run under 30 MiB); each idle archiver's RSS (floor: 16 MiB); the whole fleet's
RSS (and PSS, which does not count shared pages twice); and the median and worst time from
a SIGKILL of an archiver to its replacement running, over `--kills` kills of different
venues. The restart policy is the shipped default (first retry after 1 s), so that time is
the policy's delay plus the supervisor's own overhead. Then the feeds stop, and once every
archiver has been idle for the default `refresh_when_idle` (1 min) and re-executed itself,
the archivers' RSS and the fleet's memory again.

`--installed` runs the fleet from a fresh virtualenv with chronicle-fleet installed as a
production host has it (`pip install .`, not the editable install of a checkout, whose
import hooks cost every process ~2 MiB).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from common import install_fresh

from supervisor_app.chronicle.writer import QueueWriter
from supervisor_app.supervision.control import request

SEGMENT_SIZE = 64 * 1024
REFRESH_WHEN_IDLE_S = 60  # the fleet's default archiver.refresh_when_idle
TICK = os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--venues", type=int, default=256)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument(
        "--verbose", action="store_true", help="print each kill: reaped by supervisord, heard by the engine, replaced"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--installed", action="store_true", help="run from a fresh `pip install .` (see above)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bf-", dir="/tmp"))  # short: unix socket paths are limited
    try:
        python = install_fresh(work) if args.installed else sys.executable
        run(work, args.venues, args.kills, args.idle_seconds, args.verbose, python)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(work: Path, venues: int, kills: int, idle_s: float, verbose: bool, python: str) -> None:
    names = [f"venue-{i:03d}" for i in range(venues)]
    config = write_fleet(work, names)
    stop_writer = multiprocessing.Event()
    writer = multiprocessing.Process(target=write_live, args=(work / "bus", names, stop_writer), daemon=True)
    writer.start()
    print(
        f"fleet: {venues} venues, live queues of {SEGMENT_SIZE // 1024} KiB segments   cores: {os.cpu_count()}   python: {sys.version.split()[0]}"
    )
    control = work / "state" / "control.sock"
    started = time.monotonic()
    with (work / "run.stderr").open("wb") as err:
        fleet = subprocess.Popen(
            [python, "-m", "supervisor_app", "run", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=err
        )
    try:
        status = wait_all_running(control, names, timeout=120)
        print(f"run -> all {venues} archivers running:      {time.monotonic() - started:6.2f} s")
        supervisor_pids = {"run": fleet.pid, "supervisord": int((work / "state" / "supervisord.pid").read_text())}
        time.sleep(2.0)  # let the start-up settle before measuring idle
        report_idle(supervisor_pids, idle_s)
        archivers = [v["pid"] for v in status.values()]
        report_archivers(archivers, "live feeds")
        report_fleet_memory([*supervisor_pids.values(), *archivers])
        report_kills(control, work / "run.stderr", names[:kills], verbose)
        stop_writer.set()  # the feeds go quiet: every archiver refreshes once idle for refresh_when_idle
        writer.join(10)
        time.sleep(REFRESH_WHEN_IDLE_S + 15)
        archivers = [v["pid"] for v in status_of(control).values()]  # type: ignore[union-attr]
        report_archivers(archivers, "feeds stopped")
        report_fleet_memory([*supervisor_pids.values(), *archivers])
    finally:
        fleet.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        code = fleet.wait(120)
        print(f"SIGTERM -> run exited ({code}):           {time.monotonic() - stopping:6.2f} s")
        stop_writer.set()
        writer.join(10)


def write_fleet(work: Path, names: list[str]) -> Path:
    (work / "archive").mkdir()
    data: dict[str, Any] = {
        "version": 1,
        "archive_root": str(work / "archive"),
        "buses": {"main": str(work / "bus")},
        "defaults": {"archiver": {"poll_interval": "500ms"}},
        "supervisor": {"state_dir": str(work / "state"), "log_dir": str(work / "logs"), "stop_timeout": "10s"},
        "venues": [{"name": name, "bus": "main"} for name in names],
    }
    path = work / "fleet.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_live(bus: Path, names: list[str], stop: Any) -> None:
    """Append a ~300-byte record to every venue's queue 20 times a second: a segment seals every ~10 s."""
    writers = [
        QueueWriter(bus / "streams" / "raw" / name / "queue", segment_size=SEGMENT_SIZE, retention=False)
        for name in names
    ]
    payload = b'{"e":"trade","s":"BTCUSDT","p":"65000.00","q":"0.01000"}' + b" " * 240
    try:
        while not stop.wait(0.05):
            for writer in writers:
                writer.append(payload, timestamp_ns=time.time_ns())
    finally:
        for writer in writers:
            writer.close()


def status_of(control: Path) -> dict[str, dict[str, Any]] | None:
    try:
        reply = request(control, {"op": "status"}, timeout_s=10)
    except Exception:
        return None
    return {v["venue"]: v for v in reply["venues"]} if reply.get("ok") else None


def wait_all_running(control: Path, names: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = status_of(control)
        if status and all(status.get(n, {}).get("state") == "running" and status[n]["pid"] for n in names):
            return status
        time.sleep(0.01)
    raise SystemExit("the fleet did not come up in time")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory_kib(pid: int, key: str) -> int:
    source = "smaps_rollup" if key == "Pss" else "status"
    for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def report_idle(pids: dict[str, int], seconds: float) -> None:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    total = 0.0
    for name, pid in pids.items():
        share = (cpu_seconds(pid) - before[name]) / seconds * 100
        total += share
        print(f"idle {name:<12} CPU {share:5.2f} % of a core   RSS {memory_kib(pid, 'VmRSS') / 1024:6.1f} MiB")
    print(f"idle run + supervisord: CPU {total:5.2f} % of a core")


def report_archivers(pids: list[int], feeds: str) -> None:
    rss = sorted(memory_kib(pid, "VmRSS") / 1024 for pid in pids)
    pss = sorted(memory_kib(pid, "Pss") / 1024 for pid in pids)
    print(
        f"idle archiver RSS ({len(pids)}, {feeds}): median {statistics.median(rss):5.1f} MiB  max {rss[-1]:5.1f} MiB"
        f"   PSS median {statistics.median(pss):5.1f} MiB"
    )


def report_fleet_memory(pids: list[int]) -> None:
    rss = sum(memory_kib(pid, "VmRSS") for pid in pids) / 1024
    pss = sum(memory_kib(pid, "Pss") for pid in pids) / 1024
    print(f"fleet memory ({len(pids)} processes):         RSS {rss:7.1f} MiB   PSS {pss:7.1f} MiB")


def report_kills(control: Path, events: Path, victims: list[str], verbose: bool) -> None:
    """SIGKILL a different venue each time; time from the kill to supervisord's spawn of the replacement."""
    delays = []
    for name in victims:
        old = status_of(control)[name]["pid"]  # type: ignore[index]
        killed_at = time.time()
        os.kill(old, signal.SIGKILL)
        # Watch the log, not the socket: a status request would wake the engine early and flatter the figure.
        spawned = None
        while spawned is None:
            time.sleep(0.01)
            spawned = next(
                (
                    e
                    for e in read_events(events)
                    if e.get("event") == "spawned" and e.get("venue") == name and e["child_pid"] != old
                ),
                None,
            )
        delays.append(_at(spawned["started_at"]) - killed_at)
        if verbose:
            exited = next(e for e in read_events(events) if e.get("event") == "exited" and e.get("child_pid") == old)
            print(
                f"  {name}: reaped +{_at(exited['ended_at']) - killed_at:.3f} s, heard +{_at(exited['timestamp']) - killed_at:.3f} s, replaced +{delays[-1]:.3f} s"
            )
    print(
        f"SIGKILL -> replacement running ({len(victims)} kills): median {statistics.median(delays):.3f} s   worst {max(delays):.3f} s   (policy delay 1.000 s)"
    )


def _at(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def read_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


if __name__ == "__main__":
    main()
