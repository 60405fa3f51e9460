"""A resolved FleetConfig written back in the YAML's own names and units: what `show-config` prints.

Every default is spelled out and every path is absolute, and the result is itself a
valid fleet config (JSON is YAML), so it can be diffed, reviewed or fed back in.
"""

from __future__ import annotations

from typing import Any

from supervisor_app.archive_root import ArchiveRoot, S3Root, StoreSettings
from supervisor_app.config.model import (
    ArchiverSettings,
    CompressionPolicy,
    FleetConfig,
    MetricsSettings,
    ResourceLimits,
    SupervisorSettings,
    VenueConfig,
)
from supervisor_app.units import show_duration, show_size

FORMAT_VERSION = 1


def config_as_data(config: FleetConfig) -> dict[str, Any]:
    """The whole config as JSON-ready data under the YAML's keys."""
    data: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "archive_root": str(config.archive_root),
        "archive_root_must_exist": config.archive_root_must_exist,
        "buses": {bus.name: str(bus.root) for bus in config.buses},
        "defaults": {"compression": _compression(config.compression), "archiver": _archiver(config.archiver)},
        "restart": {
            "initial_delay": show_duration(config.restart.initial_delay_s),
            "max_delay": show_duration(config.restart.max_delay_s),
            "healthy_after": show_duration(config.restart.healthy_after_s),
        },
        "supervisor": _supervisor(config.supervisor),
        "venues": [_venue(venue) for venue in config.venues],
    }
    if config.object_store != StoreSettings() or any(isinstance(r, S3Root) for r in _roots(config)):
        data["object_store"] = _object_store(config.object_store)
    return data


def _roots(config: FleetConfig) -> list[ArchiveRoot]:
    return [config.archive_root, *(v.archive_root for v in config.venues if v.archive_root is not None)]


def _object_store(store: StoreSettings) -> dict[str, Any]:
    data: dict[str, Any] = {"addressing_style": store.addressing_style}
    if store.endpoint is not None:
        data["endpoint"] = store.endpoint
    if store.region is not None:
        data["region"] = store.region
    return data


def _compression(policy: CompressionPolicy) -> dict[str, Any]:
    return {
        "codec": policy.codec,
        "level": policy.level,
        "block_size": show_size(policy.block_size),
        "keep_raw": policy.keep_raw,
    }


def _archiver(settings: ArchiverSettings) -> dict[str, Any]:
    return {
        "poll_interval": show_duration(settings.poll_ms / 1000),
        "reader_name": settings.reader_name,
        "stall_timeout": show_duration(settings.stall_timeout_s),
        "progress_timeout": show_duration(settings.progress_timeout_s),
        "missing_queue_timeout": show_duration(settings.missing_queue_timeout_s),
        "refresh_when_idle": show_duration(settings.refresh_when_idle_s),
        "resources": _resources(settings.resources),
    }


def _resources(limits: ResourceLimits) -> dict[str, Any]:
    data: dict[str, Any] = {"nice": limits.nice, "io_class": limits.io_class, "io_level": limits.io_level}
    if limits.cpu_affinity is not None:
        data["cpu_affinity"] = list(limits.cpu_affinity)
    if limits.compress_threads is not None:
        data["compress_threads"] = limits.compress_threads
    return data


def _supervisor(settings: SupervisorSettings) -> dict[str, Any]:
    logs = settings.logs
    data: dict[str, Any] = {
        "state_dir": str(settings.state_dir),
        "log_dir": "stdout" if logs.directory is None else str(logs.directory),
        "log_max_bytes": show_size(logs.max_bytes),
        "log_backups": logs.backups,
        "stop_timeout": show_duration(settings.stop_timeout_s),
    }
    if settings.max_compress_threads is not None:
        data["max_compress_threads"] = settings.max_compress_threads
    if settings.metrics.enabled:
        data["metrics"] = _metrics(settings.metrics)
    return data


def _metrics(metrics: MetricsSettings) -> dict[str, Any]:
    data: dict[str, Any] = {"interval": show_duration(metrics.interval_s)}
    if metrics.listen is not None:
        host, port = metrics.listen
        data["listen"] = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if metrics.textfile is not None:
        data["textfile"] = str(metrics.textfile)
    return data


def _venue(venue: VenueConfig) -> dict[str, Any]:
    data: dict[str, Any] = {"name": venue.name}
    if venue.source.startswith("bus:"):
        data["bus"] = venue.source.removeprefix("bus:")
    else:
        data["queue"] = str(venue.queue_dir)
    data["enabled"] = venue.enabled
    if venue.archive_root is not None:
        data["archive_root"] = str(venue.archive_root)
    data["compression"] = _compression(venue.compression)
    data["archiver"] = _archiver(venue.archiver)
    return data
