"""A resolved FleetConfig as JSON-ready data, for people and tools to read."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from supervisor_app.config.model import FleetConfig


def config_as_data(config: FleetConfig) -> dict[str, object]:
    """Every field of `config` with paths as strings and tuples as lists."""
    return _plain(dataclasses.asdict(config))  # type: ignore[return-value]


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return value
