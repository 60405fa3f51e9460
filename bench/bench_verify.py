"""Benchmark `chronicle-fleet verify` on a 1 GiB compressed archive against `zstd -d`.

    .venv/bin/python bench/bench_verify.py [--workdir DIR] [--segments 8] [--repeat 3]

Archives a 1 GiB queue with `--compress`, then times, on the same `.q.zst` files:
`chronicle-fleet verify` (decode through the index + CRC-32 against meta.json) and
`zstd -d -c ... > /dev/null`. Floor: verify within 1.5x of zstd -d.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from common import archiver_cmd, bench_main, measure, write_queue


def run(work: Path, segments: int, repeat: int) -> None:
    queue, archive = work / "queue", work / "archive"
    archive.mkdir()
    write_queue(queue, segments)
    archiver = archiver_cmd(queue, archive, "--compress")
    subprocess.run(archiver, check=True, stderr=subprocess.DEVNULL)
    shutil.rmtree(queue)  # verify needs only the archive
    zst_files = sorted(str(p) for p in archive.rglob("*.q.zst"))
    print(
        f"archive: {len(zst_files)} .q.zst files, {sum(Path(p).stat().st_size for p in zst_files) / 2**20:.0f} MiB compressed"
    )
    rss = work / "rss"
    nothing = lambda: None
    verify = measure(
        "chronicle-fleet verify",
        repeat,
        nothing,
        [sys.executable, "-m", "supervisor_app", "verify", "--archive-root", str(archive)],
        rss,
    )
    zstd = measure(
        "zstd -d -c > /dev/null",
        repeat,
        nothing,
        ["sh", "-c", 'zstd -d -q -c "$@" > /dev/null', "zstd-d", *zst_files],
        rss,
    )
    print()
    print(f"verify / zstd -d:   {verify.wall_s / zstd.wall_s:5.2f}x   (floor: <= 1.50x)")


if __name__ == "__main__":
    bench_main(__doc__, "bench-verify-", run)
