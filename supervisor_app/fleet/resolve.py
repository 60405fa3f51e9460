"""Valid config data becomes the typed FleetConfig: defaults applied, paths absolute, units converted.

Only called on data that passed every check; the dataclasses' own defaults are
the fleet's defaults, so this module names none.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from supervisor_app.fleet.config import (
    ArchiverSettings,
    BusSource,
    CompressionPolicy,
    FleetConfig,
    LogSettings,
    RestartPolicy,
    SupervisorSettings,
    VenueConfig,
)
from supervisor_app.fleet.paths import resolve_path
from supervisor_app.fleet.units import parse_duration, parse_size

Settings = TypeVar("Settings")
Raw = Mapping[str, Any]
_Field = tuple[str, str, Callable[[Any], Any]]  # YAML key, dataclass field, converter


def resolve_config(data: Raw, config_path: Path) -> FleetConfig:
    """The FleetConfig that `data`, read from `config_path`, declares."""
    path = config_path.absolute()
    base = path.parent
    defaults = data.get("defaults", {})
    compression = overlay(CompressionPolicy(), defaults.get("compression", {}), _COMPRESSION_FIELDS)
    archiver = overlay(ArchiverSettings(), defaults.get("archiver", {}), _ARCHIVER_FIELDS)
    buses = tuple(BusSource(name, resolve_path(base, root)) for name, root in data.get("buses", {}).items())
    venues = tuple(_venue(venue, base, buses, compression, archiver) for venue in data["venues"])
    return FleetConfig(
        path=path,
        archive_root=resolve_path(base, data["archive_root"]),
        venues=venues,
        supervisor=_supervisor(data["supervisor"], base),
        buses=buses,
        compression=compression,
        archiver=archiver,
        restart=overlay(RestartPolicy(), data.get("restart", {}), _RESTART_FIELDS),
    )


def overlay(base: Settings, raw: Raw, fields: tuple[_Field, ...]) -> Settings:
    """`base` with each field that `raw` gives replaced by its converted value."""
    changes = {name: convert(raw[key]) for key, name, convert in fields if key in raw}
    return dataclasses.replace(base, **changes)  # type: ignore[type-var]


def _venue(
    raw: Raw, base: Path, buses: tuple[BusSource, ...], compression: CompressionPolicy, archiver: ArchiverSettings
) -> VenueConfig:
    name = raw["name"]
    if "bus" in raw:
        bus = next(bus for bus in buses if bus.name == raw["bus"])
        queue_dir, source = bus.queue_dir(name), f"bus:{bus.name}"
    else:
        queue_dir, source = resolve_path(base, raw["queue"]), "queue"
    return VenueConfig(
        name=name,
        queue_dir=queue_dir,
        source=source,
        enabled=raw.get("enabled", True),
        compression=overlay(compression, raw.get("compression", {}), _COMPRESSION_FIELDS),
        archiver=overlay(archiver, raw.get("archiver", {}), _ARCHIVER_FIELDS),
    )


def _supervisor(raw: Raw, base: Path) -> SupervisorSettings:
    log_fields: tuple[_Field, ...] = (
        ("log_dir", "directory", lambda text: _log_directory(text, base)),
        ("log_max_bytes", "max_bytes", _bytes),
        ("log_backups", "backups", int),
    )
    logs = overlay(LogSettings(), raw, log_fields)
    settings = SupervisorSettings(state_dir=resolve_path(base, raw["state_dir"]), logs=logs)
    return overlay(settings, raw, (("stop_timeout", "stop_timeout_s", _seconds),))


def _log_directory(text: str | None, base: Path) -> Path | None:
    return None if text is None or text == "stdout" else resolve_path(base, text)


def _same(value: Any) -> Any:
    return value


def _seconds(value: Any) -> float:
    seconds = parse_duration(value)
    assert seconds is not None, f"unchecked duration {value!r}"
    return seconds


def _milliseconds(value: Any) -> int:
    return round(_seconds(value) * 1000)


def _bytes(value: Any) -> int:
    size = parse_size(value)
    assert size is not None, f"unchecked size {value!r}"
    return size


_COMPRESSION_FIELDS: tuple[_Field, ...] = (
    ("codec", "codec", _same),
    ("level", "level", int),
    ("block_size", "block_size", _bytes),
    ("keep_raw", "keep_raw", _same),
)
_ARCHIVER_FIELDS: tuple[_Field, ...] = (
    ("poll_interval", "poll_ms", _milliseconds),
    ("reader_name", "reader_name", _same),
)
_RESTART_FIELDS: tuple[_Field, ...] = (
    ("initial_delay", "initial_delay_s", _seconds),
    ("max_delay", "max_delay_s", _seconds),
    ("healthy_after", "healthy_after_s", _seconds),
)
