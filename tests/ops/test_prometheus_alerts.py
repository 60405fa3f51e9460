"""ops/prometheus/alerts.yml: checked by promtool, and each rule evaluated on real scrapes of a fleet in its state.

One fleet holds every state at once: a healthy venue, a held one whose writer keeps
rolling, one an operator stopped, one whose queue path is wrong, one whose reader file
cannot be written (a read-only bind mount in run's own mount namespace), and one whose
unarchived segments are deleted between two scrapes. The two scrapes become promtool
input series (each value at the first scrape, with the slope between the two), and
`promtool test rules` checks that each alert fires for exactly the venues in its state.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from supervisor_app.chronicle.reader_position import ReaderPosition, register_reader
from supervisor_app.chronicle.retention import RetentionRule
from tests.archive.queue_builders import LiveWriter, write_queue
from tests.cli.fleet_runner import FleetLauncher, fleet_yaml, wait_until

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "ops" / "prometheus" / "alerts.yml"
MINUTES = 40  # the series span; every rule's `for` and range fit in it
GROWING = {"chronicle_fleet_archive_bytes_behind"}
SEGMENT = 64 * 1024


@pytest.fixture
def launcher() -> Iterator[FleetLauncher]:
    fleets = FleetLauncher()
    try:
        yield fleets
    finally:
        fleets.stop_all()
        fleets.remove_roots()


def test_promtool_accepts_the_rules() -> None:
    checked = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 9 rules found" in checked.stdout


def test_each_rule_fires_for_exactly_the_venues_in_its_state(launcher: FleetLauncher, tmp_path: Path) -> None:
    root = launcher.root()
    bus = root / "bus/streams/raw"
    writers = [_rolling(bus / "good/queue", pause_s=0.5), _rolling(bus / "held/queue", pause_s=0.1)]
    _conflict(root, "held", segment=2)  # its archiver stops at segment 2, held; the writer rolls on
    write_queue(bus / "stopped/queue", segments=2, segment_size=SEGMENT)
    write_queue(bus / "rofs/queue", segments=2, segment_size=SEGMENT)
    register_reader(bus / "rofs/queue", "raw-archiver", ReaderPosition(0, 64, time.time_ns()))
    venues = [{"name": n, "bus": "main"} for n in ("good", "held", "stopped", "rofs", "lossy")]
    venues.append({"name": "typo", "queue": str(root / "no/such/queue")})
    port = _free_port()
    data = fleet_yaml(
        root,
        venues,
        restart={"initial_delay": "1m", "max_delay": "1m"},  # a failing venue stays in backoff between scrapes
        defaults={
            "compression": {"codec": "none"},
            "archiver": {"poll_interval": "100ms", "missing_queue_timeout": "1s"},
        },
        supervisor={"metrics": {"listen": f"127.0.0.1:{port}"}},
    )
    readers = bus / "rofs/queue/readers"
    # The rofs venue's reader cannot be written, by its archiver or by run's lease: its heartbeat ages.
    wrap = ["unshare", "--mount", "sh", "-c", f'mount --bind -o ro "{readers}" "{readers}" && exec "$@"', "-"]
    try:
        fleet = launcher.start(root, data, wait_for=("good", "typo"), wrap=wrap)
        assert fleet.ctl("stop", "stopped", "lossy").returncode == 0
        # lossy's queue appears only now, while its archiver is stopped: nothing of it is archived yet.
        write_queue(bus / "lossy/queue", segments=4, segment_size=SEGMENT)
        register_reader(bus / "lossy/queue", "raw-archiver", ReaderPosition(0, 64, time.time_ns()))
        wait_until(lambda: fleet.status()["held"]["state"] == "held", timeout=30, what="held")
        wait_until(
            lambda: _value(_scrape(port), "chronicle_fleet_reader_heartbeat_age_seconds", venue="rofs") > 21,
            timeout=60,
            what="the rofs heartbeat past 20 s",
        )
        first, first_at = _scrape(port), time.time()
        time.sleep(5)
        for segment in (0, 1):  # retention takes lossy's backlog while nothing protects it
            (bus / f"lossy/queue/{segment:09d}.q").unlink()
        assert fleet.ctl("start", "lossy").returncode == 0
        good_before = _value(first, "chronicle_fleet_last_archived_timestamp_seconds", venue="good")
        wait_until(
            lambda: _settled(_scrape(port), good_before), timeout=30, what="lossy's loss recorded, good still archiving"
        )
        second, second_at = _scrape(port), time.time()
    finally:
        for writer in writers:
            writer.stop.set()
            writer.join(timeout=10)

    tests = tmp_path / "tests.yml"
    tests.write_text(yaml.safe_dump(_promtool_tests(first, first_at, second, second_at)))
    shutil.copy(RULES, tmp_path / "alerts.yml")
    result = subprocess.run(["promtool", "test", "rules", str(tests)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


EXPECTED = {  # alert -> the venues its expression must select (and only those)
    "ChronicleFleetDown": set(),
    "ChronicleFleetVenueDown": {"held", "rofs"},
    "ChronicleFleetVenueStopped": {"stopped"},
    "ChronicleFleetVenueAtRisk": {("typo", "queue_missing"), ("rofs", "heartbeat")},
    "ChronicleFleetHeartbeatNearTimeout": {"rofs"},
    "ChronicleFleetLagGrowing": {"held"},
    "ChronicleFleetNoRecentArchive": {"held"},
    "ChronicleFleetSegmentsMissing": {"lossy"},
    "ChronicleFleetSegmentsCorrupt": set(),
}


def _promtool_tests(first: str, first_at: float, second: str, second_at: float) -> dict[str, object]:
    rules = {rule["alert"]: rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    assert set(rules) == set(EXPECTED)
    return {
        "rule_files": ["alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": _series(first, first_at, second, second_at),
                # Each rule's own expression, counted per venue: 1 for every venue it selects.
                "promql_expr_test": [
                    {
                        "eval_time": f"{MINUTES - 1}m",
                        "expr": f"count by ({', '.join(_by(want))}) ({rules[alert]['expr']})",
                        "exp_samples": [{"labels": _labels(venue), "value": 1} for venue in sorted(want)],
                    }
                    for alert, want in EXPECTED.items()
                    if "absent(" not in rules[alert]["expr"]
                ]
                + [
                    {
                        "eval_time": f"{MINUTES - 1}m",
                        "expr": rules["ChronicleFleetDown"]["expr"],
                        "exp_samples": [],  # the fleet exports metrics: nothing is absent
                    }
                ],
            }
        ],
    }


def _series(first: str, first_at: float, second: str, second_at: float) -> list[dict[str, str]]:
    """The two scrapes as promtool series over the whole span, ending at what the second scrape saw.

    What grew between the scrapes grows on at the same rate (counters, the lag in bytes); a
    time that moved keeps moving with the clock (a venue that archives stays as recent); a
    time that did not move stays put (a stuck venue grows old); every other gauge (a state,
    a heartbeat's age, segments behind) stays at its second value.
    """
    minutes = (second_at - first_at) / 60
    earlier = dict(_samples(first))
    series = []
    for key, value in _samples(second):
        name, labels = key
        before = earlier.get(key)
        step = 0.0
        if name.endswith("_timestamp_seconds"):
            # promtool's clock starts at 0. A time that moved keeps its distance to the clock (one
            # minute per minute); one that did not was already that old when the span began.
            start = value - second_at
            step = 60.0 if before is not None and value > before else 0.0
        else:
            if before is not None and (name.endswith("_total") or name in GROWING):
                step = round((value - before) / minutes, 6)
            start = value - step * (MINUTES - 1)  # exactly the second value at the last step
        text = "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"
        values = f"{start!r}x{MINUTES}" if step == 0 else f"{start!r}{'+' if step > 0 else ''}{step!r}x{MINUTES}"
        series.append({"series": name + text, "values": values})
    return series


def _by(want: set[object]) -> list[str]:
    return ["instance", "venue", "reason"] if any(isinstance(v, tuple) for v in want) else ["instance", "venue"]


def _labels(venue: object) -> str:
    if isinstance(venue, tuple):
        return f'{{instance="fleet", reason="{venue[1]}", venue="{venue[0]}"}}'
    return f'{{instance="fleet", venue="{venue}"}}'


def _samples(text: str) -> Iterator[tuple[tuple[str, tuple[tuple[str, str], ...]], float]]:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = tuple(sorted({**sample.labels, "instance": "fleet"}.items()))
            yield (sample.name, labels), float(sample.value)


def _settled(text: str, good_archived_before: float) -> bool:
    """lossy has recorded its loss and archived the rest; good has archived more since the first scrape."""
    return (
        _value(text, "chronicle_fleet_segments_missing_total", venue="lossy") == 2
        and _value(text, "chronicle_fleet_archive_segments_behind", venue="lossy") == 0
        and _value(text, "chronicle_fleet_last_archived_timestamp_seconds", venue="good") > good_archived_before
    )


def _value(text: str, name: str, **labels: str) -> float:
    for (sample, sample_labels), value in _samples(text):
        if sample == name and all(dict(sample_labels).get(k) == v for k, v in labels.items()):
            return value
    return float("nan")


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


def _rolling(queue: Path, pause_s: float) -> LiveWriter:
    writer = LiveWriter(queue, rule=RetentionRule(), pause_s=pause_s)
    writer.start()
    wait_until(lambda: writer.highest_sealed >= 3, timeout=20, what="a rolling writer")
    return writer


def _conflict(root: Path, venue: str, *, segment: int) -> None:
    """Someone else's segment in the venue's archive: our archiver refuses it and is held."""
    path = root / f"archive/raw/v1/{venue}/2026-01-24/raw/{segment:09d}.q"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"another queue's segment")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
