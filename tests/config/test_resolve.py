"""Resolution: defaults applied, overrides merged field by field, paths absolute, units converted."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from supervisor_app.config import (
    ArchiverSettings,
    CompressionPolicy,
    FleetConfig,
    LogSettings,
    ResourceLimits,
    RestartPolicy,
    load_fleet_config,
)
from tests.config import sample_configs

MINIMAL = sample_configs.MINIMAL.replace("queue: q", "queue: ../queues/okx")


def load(tmp_path: Path, text: str) -> FleetConfig:
    return load_fleet_config(sample_configs.write_config(tmp_path / "etc", text))


def test_minimal_config_gets_every_default(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    assert config.compression == CompressionPolicy()
    assert config.archiver == ArchiverSettings()
    assert config.restart == RestartPolicy()
    assert config.supervisor.logs == LogSettings()
    assert config.supervisor.stop_timeout_s == 30.0
    assert config.buses == ()
    (venue,) = config.venues
    assert (venue.enabled, venue.compression, venue.archiver) == (True, CompressionPolicy(), ArchiverSettings())


def test_relative_paths_resolve_against_the_config_directory(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    etc = tmp_path / "etc"
    assert config.path == etc / "fleet.yaml"
    assert config.archive_root == etc / "archive"
    assert config.supervisor.state_dir == etc / "state"
    assert config.venues[0].queue_dir == tmp_path / "queues" / "okx"
    assert config.venues[0].source == "queue"


def test_bus_venues_read_the_bus_stream_of_their_name(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL.replace("queue: ../queues/okx", "bus: main") + "buses:\n  main: /srv/bus\n")
    assert [(bus.name, bus.root) for bus in config.buses] == [("main", Path("/srv/bus"))]
    assert config.venues[0].queue_dir == Path("/srv/bus/streams/raw/okx/queue")
    assert config.venues[0].source == "bus:main"


def test_venue_overrides_merge_field_by_field_over_fleet_defaults(tmp_path: Path) -> None:
    text = MINIMAL + (
        "    compression: {level: 9}\n"
        "    archiver: {reader_name: second}\n"
        "  - name: plain\n"
        "    queue: q\n"
        "defaults:\n"
        "  compression: {codec: zstd, level: 5, block_size: 256KiB, keep_raw: true}\n"
        "  archiver: {poll_interval: 250ms}\n"
    )
    config = load(tmp_path, text)
    fleet = CompressionPolicy(codec="zstd", level=5, block_size=256 * 1024, keep_raw=True)
    assert config.compression == fleet
    assert config.venue("okx").compression == dataclasses.replace(fleet, level=9)
    assert config.venue("okx").archiver == ArchiverSettings(poll_ms=250, reader_name="second")
    assert config.venue("plain").compression == fleet
    assert config.venue("plain").archiver == ArchiverSettings(poll_ms=250)


@pytest.mark.parametrize(
    ("restart", "expected"),
    [
        ("{initial_delay: 500ms, max_delay: 5s, healthy_after: 10s}", RestartPolicy(0.5, 5.0, 10.0)),
        ("{initial_delay: 0.25, max_delay: 2m, healthy_after: 1h}", RestartPolicy(0.25, 120.0, 3600.0)),
    ],
)
def test_durations_become_seconds(tmp_path: Path, restart: str, expected: RestartPolicy) -> None:
    assert load(tmp_path, MINIMAL + f"restart: {restart}\n").restart == expected


@pytest.mark.parametrize(
    ("log_dir", "directory"), [("null", None), ("stdout", None), ("logs", "etc/logs"), ("/var/log/x", "/var/log/x")]
)
def test_log_dir_is_a_directory_or_stdout(tmp_path: Path, log_dir: str, directory: str | None) -> None:
    config = load(tmp_path, MINIMAL.replace("state_dir: state", f"state_dir: state\n  log_dir: {log_dir}"))
    assert config.supervisor.logs.directory == (None if directory is None else tmp_path / directory)


def test_supervisor_sizes_counts_and_timeouts_convert(tmp_path: Path) -> None:
    settings = "state_dir: state\n  log_max_bytes: 1MiB\n  log_backups: 3\n  stop_timeout: 1m"
    config = load(tmp_path, MINIMAL.replace("state_dir: state", settings))
    assert config.supervisor.logs == LogSettings(directory=None, max_bytes=1024 * 1024, backups=3)
    assert config.supervisor.stop_timeout_s == 60.0


def test_disabled_venues_stay_declared_but_not_enabled(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL + "  - name: paused\n    queue: q\n    enabled: false\n")
    assert [v.name for v in config.venues] == ["okx", "paused"]
    assert [v.name for v in config.enabled_venues] == ["okx"]


def test_resolved_config_is_frozen(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.venues[0].name = "x"  # type: ignore[misc]


def test_watchdog_timeouts_and_resources_merge_field_by_field(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "venues:",
        "defaults:\n  archiver:\n    stall_timeout: 8s\n    resources: {nice: 5, cpu_affinity: '0-1,3'}\nvenues:",
    )
    text += "    archiver: {progress_timeout: 1m, resources: {io_class: idle, cpu_affinity: [2, '5-6']}}\n"
    text += "  - name: cb\n    queue: q2\n"
    config = load(tmp_path, text)
    okx, cb = config.venues
    assert (okx.archiver.stall_timeout_s, okx.archiver.progress_timeout_s, okx.archiver.missing_queue_timeout_s) == (
        8.0,
        60.0,
        60.0,
    )
    assert okx.archiver.resources == ResourceLimits(nice=5, io_class="idle", io_level=7, cpu_affinity=(2, 5, 6))
    assert cb.archiver.resources == ResourceLimits(nice=5, cpu_affinity=(0, 1, 3))
    assert cb.archiver.progress_timeout_s == 300.0


@pytest.mark.parametrize(
    ("listen", "address"),
    [
        ("9464", ("127.0.0.1", 9464)),
        ("':9464'", ("127.0.0.1", 9464)),
        ("'0.0.0.0:80'", ("0.0.0.0", 80)),
        ("'[::1]:9'", ("::1", 9)),
    ],
)
def test_metrics_listen_address_defaults_to_loopback(tmp_path: Path, listen: str, address: tuple[str, int]) -> None:
    text = MINIMAL.replace("state_dir: state", f"state_dir: state\n  metrics: {{listen: {listen}, textfile: m.prom}}")
    metrics = load(tmp_path, text).supervisor.metrics
    assert (metrics.listen, metrics.textfile, metrics.interval_s) == (address, tmp_path / "etc" / "m.prom", 5.0)


def test_no_metrics_section_means_no_metrics_and_the_mount_guard_is_off(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    assert not config.supervisor.metrics.enabled and config.supervisor.max_compress_threads is None
    assert config.archive_root_must_exist is False
