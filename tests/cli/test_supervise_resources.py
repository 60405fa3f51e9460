"""Under `chronicle-fleet run`: each archiver's share of the host, read back from the kernel, and shown by status."""

from __future__ import annotations

import json
import os

import pytest

from tests.archive.queue_builders import write_queue
from tests.cli.fleet_runner import FleetLauncher, fleet_yaml, json_lines, wait_until
from tests.kernel_probe import ThreadState, thread_states

pytestmark = pytest.mark.slow
LAST_CORE = max(os.sched_getaffinity(0))
EVERY_CORE = frozenset(os.sched_getaffinity(0))


def test_each_archiver_runs_with_its_venue_s_settings_and_status_shows_them(launcher: FleetLauncher) -> None:
    root = launcher.root()
    # A backlog that keeps alpha's compression threads at work for a while at level 19.
    write_queue(root / "bus/streams/raw/alpha/queue", segments=8, segment_size=512 * 1024)
    alpha = {
        "name": "alpha",
        "bus": "main",
        "compression": {"level": 19, "block_size": "64KiB"},
        "archiver": {
            "resources": {"nice": 12, "io_class": "idle", "cpu_affinity": str(LAST_CORE), "compress_threads": 2}
        },
    }
    beta = {"name": "beta", "bus": "main", "compression": {"codec": "none"}}  # the fleet defaults
    data = fleet_yaml(root, [alpha, beta], supervisor={"max_compress_threads": 1})
    fleet = launcher.start(root, data)
    pids = {name: row["pid"] for name, row in fleet.wait_running("alpha", "beta").items()}
    for name in pids:  # applied at start, then logged: the interpreter's start-up runs before
        wait_until(
            lambda name=name: any(e["event"] == "archiver_started" for e in json_lines(root / f"logs/{name}.log")),
            what=f"{name} started",
        )

    seen: dict[int, ThreadState] = {}

    def compressing() -> bool:
        for state in thread_states(pids["alpha"]):
            seen.setdefault(state.tid, state)
        return any(s.name.startswith("zstd-") for s in seen.values())

    wait_until(compressing, timeout=30, what="alpha's compression threads")
    # Two threads wanted, one slot in the fleet: it compresses on one.
    assert {s.name for s in seen.values() if s.name.startswith("zstd-")} == {"zstd-0"}
    for state in seen.values():
        assert (state.nice, state.io_class, state.cpus) == (12, "idle", {LAST_CORE}), state
    for state in thread_states(pids["beta"]):
        assert (state.nice, state.io_class, state.io_level, state.cpus) == (10, "best-effort", 7, EVERY_CORE), state
    assert (root / "state/compress-slots/slot-0").exists()

    result = fleet.ctl("status", "--json")
    rows = {row["venue"]: row for row in json.loads(result.stdout)["venues"]}
    assert rows["alpha"]["resources"] == {
        "nice": 12,
        "io_class": "idle",
        "io_level": None,
        "cpu_affinity": str(LAST_CORE),
        "compress_threads": 2,
        "applied": {"nice": 12, "io_class": "idle", "io_level": 0, "cpu_affinity": str(LAST_CORE)},
    }
    assert rows["beta"]["resources"]["applied"]["io_class"] == "best-effort"
    table = fleet.ctl("status").stdout
    assert "SHARE OF HOST" in table
    assert f"nice 12 io idle cpus {LAST_CORE} zstd 2" in table and "nice 10 io be7" in table
