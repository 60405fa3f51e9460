"""Benchmark `chronicle-fleet verify` on a 1 GiB compressed archive against `zstd -d`.

    .venv/bin/python bench/bench_verify.py [--workdir DIR] [--segments 8] [--repeat 3]

Archives a 1 GiB queue with `--compress`, then times, on the same `.q.zst` files:
`chronicle-fleet verify` (decode through the index + CRC-32 against meta.json) and
`zstd -d -c ... > /dev/null`. Floor: verify within 1.5x of zstd -d.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import measure, write_queue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the queue (default: a temp dir)")
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-verify-", dir=args.workdir))
    try:
        run(work, args.segments, args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, segments: int, repeat: int) -> None:
    queue, archive = work / "queue", work / "archive"
    archive.mkdir()
    write_queue(queue, segments)
    archiver = [sys.executable, "-m", "supervisor_app.cli.archiver", "--source", str(queue), "--archive-root", str(archive), "--venue", "bench", "--once", "--compress"]
    subprocess.run(archiver, check=True, stderr=subprocess.DEVNULL)
    shutil.rmtree(queue)  # verify needs only the archive
    zst_files = sorted(str(p) for p in archive.rglob("*.q.zst"))
    print(f"archive: {len(zst_files)} .q.zst files, {sum(Path(p).stat().st_size for p in zst_files) / 2**20:.0f} MiB compressed")
    rss = work / "rss"
    nothing = lambda: None  # noqa: E731
    verify = measure("chronicle-fleet verify", repeat, nothing, [sys.executable, "-m", "supervisor_app", "verify", "--archive-root", str(archive)], rss)
    zstd = measure("zstd -d -c > /dev/null", repeat, nothing, ["sh", "-c", 'zstd -d -q -c "$@" > /dev/null', "zstd-d", *zst_files], rss)
    print()
    print(f"verify / zstd -d:   {verify.wall_s / zstd.wall_s:5.2f}x   (floor: <= 1.50x)")


if __name__ == "__main__":
    main()
