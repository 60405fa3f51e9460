"""Benchmark: validate a 500-venue fleet config and print the time (floor: under 1 s).

Run: .venv/bin/python bench/bench_validate_config.py [--venues N] [--repeat N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from supervisor_app.config import check_fleet_config

FLOOR_SECONDS = 1.0


def fleet_yaml(venue_count: int) -> str:
    """A valid config with `venue_count` venues, every fourth one with overrides."""
    lines = [
        "version: 1",
        "archive_root: archive",
        "buses:",
        "  main: bus",
        "defaults:",
        "  compression: {codec: zstd, level: 3, block_size: 1MiB}",
        "  archiver: {poll_interval: 1s}",
        "restart: {initial_delay: 1s, max_delay: 1m, healthy_after: 1m}",
        "supervisor:",
        "  state_dir: state",
        "  log_dir: logs",
        "venues:",
    ]
    for index in range(venue_count):
        lines += [f"  - name: venue-{index:04d}", "    bus: main"]
        if index % 4 == 0:
            lines += ["    compression:", "      level: 9", "    archiver:", "      poll_interval: 250ms"]
    return "\n".join(lines) + "\n"


def time_validation(path: Path, repeat: int) -> list[float]:
    """Seconds taken by each of `repeat` full validations of `path` (load, schema, checks, types)."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        checked = check_fleet_config(path)
        timings.append(time.perf_counter() - started)
        if checked.config is None:
            raise SystemExit(f"benchmark config is invalid: {checked.problems[:3]}")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--venues", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "fleet.yaml"
        path.write_text(fleet_yaml(args.venues), encoding="utf-8")
        size_kib = path.stat().st_size / 1024
        timings = time_validation(path, args.repeat)
    best, worst = min(timings), max(timings)
    verdict = "ok" if worst < FLOOR_SECONDS else "TOO SLOW"
    print(
        f"validate {args.venues} venues ({size_kib:.0f} KiB): best {best * 1000:.0f} ms, "
        f"worst {worst * 1000:.0f} ms over {args.repeat} runs (floor {FLOOR_SECONDS:.0f} s: {verdict})"
    )


if __name__ == "__main__":
    main()
