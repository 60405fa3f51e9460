"""Prometheus metrics from a real fleet: the textfile, counters that survive a restart of run, a busy port."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.archive.queue_builders import write_queue
from tests.cli.fleet_runner import FleetLauncher, fleet_yaml, wait_until

pytestmark = pytest.mark.slow


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_textfile_and_counters_that_survive_a_restart_of_run(launcher: FleetLauncher) -> None:
    root = launcher.root()
    write_queue(root / "bus/streams/raw/alpha/queue", segments=3, segment_size=64 * 1024)
    textfile = root / "metrics/fleet.prom"
    textfile.parent.mkdir()
    data = fleet_yaml(
        root,
        [{"name": "alpha", "bus": "main"}],
        defaults={"archiver": {"poll_interval": "100ms"}},
        supervisor={"metrics": {"textfile": str(textfile), "interval": "1s"}},
    )
    fleet = launcher.start(root, data)

    def archived() -> float:
        text = textfile.read_text() if textfile.exists() else ""
        return samples(text).get(("chronicle_fleet_archived_segments_total", (("venue", "alpha"),)), 0.0)

    wait_until(lambda: archived() == 3, timeout=30, what="3 segments counted in the textfile")
    assert fleet.ctl("restart", "alpha").returncode == 0
    restarted = (("reason", "operator"), ("venue", "alpha"))
    wait_until(
        lambda: samples(textfile.read_text()).get(("chronicle_fleet_venue_restarts_total", restarted)) == 1,
        what="the operator's restart counted",
    )
    assert not list(textfile.parent.glob("*.tmp*"))  # written aside, renamed into place
    assert fleet.terminate() == 0

    textfile.unlink()
    again = launcher.start(root, data)
    wait_until(lambda: textfile.exists() and archived() == 3, timeout=30, what="the counters after a restart of run")
    shown = samples(textfile.read_text())
    assert shown[("chronicle_fleet_venue_restarts_total", restarted)] == 1  # from the state dir, not from memory
    assert shown[("chronicle_fleet_archived_bytes_total", (("kind", "raw"), ("venue", "alpha")))] == 3 * 64 * 1024
    assert shown[("chronicle_fleet_venue_up", (("venue", "alpha"),))] == 1
    # The archive-time histogram comes from the partition summaries: every segment timed, across the restart.
    assert shown[("chronicle_fleet_segment_archive_seconds_count", (("venue", "alpha"),))] == 3
    assert shown[("chronicle_fleet_segment_archive_seconds_sum", (("venue", "alpha"),))] > 0
    assert again.terminate() == 0


def test_a_busy_metrics_port_is_an_error_but_archiving_goes_on(launcher: FleetLauncher) -> None:
    root = launcher.root()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        data = fleet_yaml(root, [{"name": "alpha", "bus": "main"}], supervisor={"metrics": {"listen": port}})
        fleet = launcher.start(root, data)
        [failed] = fleet.events("metrics_listen_failed")
        assert failed["level"] == "error" and str(port) in failed["address"]
        assert fleet.status()["alpha"]["state"] == "running"


def test_the_listener_serves_the_documented_names(launcher: FleetLauncher) -> None:
    root = launcher.root()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = fleet_yaml(root, [{"name": "alpha", "bus": "main"}], supervisor={"metrics": {"listen": f"127.0.0.1:{port}"}})
    launcher.start(root, data)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        names = {name for name, _ in samples(response.read().decode())}
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for name in names:
        base = name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
        assert f"`{base}" in readme, f"{base} is not documented in the README"
