"""YAML values converted to their typed form, and each settings section's YAML key -> dataclass field table.

A converter raises Unusable for a value it cannot convert; the schema says why, unless the
converter gives a reason the schema cannot see.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from supervisor_app.archive_root import ADDRESSING_STYLES
from supervisor_app.config.paths import resolve_path
from supervisor_app.units import parse_duration, parse_size

Convert = Callable[[Any], Any]
Field = tuple[str, str, Convert]  # YAML key, dataclass field, converter (raises Unusable)
_LOOPBACK = "127.0.0.1"


class Unusable(Exception):
    """A value the converter cannot turn into its typed form; the schema says why, unless a reason is given."""

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason


def as_mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def usable_path(base: Path, text: object) -> Path | None:
    """`text` resolved against `base` when it is a non-empty string without NUL, else None."""
    if not isinstance(text, str) or not text or "\0" in text:
        return None
    return resolve_path(base, text)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise Unusable
    return value


def flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise Unusable
    return value


def integer(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Unusable
    return value


def _codec(value: object) -> str:
    if value not in ("zstd", "none"):
        raise Unusable
    return str(value)


def duration_s(value: object) -> float:
    seconds = parse_duration(value)
    if seconds is None:
        raise Unusable
    return seconds


def _milliseconds(value: object) -> int:
    return round(duration_s(value) * 1000)


def byte_size(value: object) -> int:
    size = parse_size(value)
    if size is None:
        raise Unusable
    return size


def listen_address(value: object) -> tuple[str, int]:
    """A port alone (loopback), ':port', 'host:port' or '[v6]:port' as (host, port)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 65535:
            raise Unusable  # the schema bounds a port given as a number
        host, port = _LOOPBACK, value
    elif isinstance(value, str) and ":" in value:
        host_text, _, port_text = value.rpartition(":")
        if not port_text.isdigit():
            raise Unusable
        host, port = host_text.removeprefix("[").removesuffix("]") or _LOOPBACK, int(port_text)
    else:
        raise Unusable
    if not 1 <= port <= 65535:
        raise Unusable(f"port {port} is outside 1..65535")
    return host, port


def _cpu_list(value: object) -> tuple[int, ...]:
    """'0-3,8' or [0, '2-3'] as the sorted cores it names."""
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list) or not parts:
        raise Unusable
    cores: set[int] = set()
    for part in parts:
        cores |= _cpu_range(part)
    return tuple(sorted(cores))


def _cpu_range(part: object) -> set[int]:
    if isinstance(part, int) and not isinstance(part, bool) and part >= 0:
        return {part}
    if not isinstance(part, str):
        raise Unusable
    first, _, last = part.partition("-")
    if not first.isdigit() or not (last or first).isdigit():
        raise Unusable
    low, high = int(first), int(last or first)
    if high < low:
        raise Unusable(f"the range {part!r} is empty: write the lower core first")
    return set(range(low, high + 1))


def _endpoint(value: object) -> str:
    """`http(s)://host[:port]` (a trailing slash dropped)."""
    if not isinstance(value, str):
        raise Unusable
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise Unusable
    return f"{parts.scheme}://{parts.netloc}"


def _addressing_style(value: object) -> str:
    if value not in ADDRESSING_STYLES:
        raise Unusable
    return str(value)


def _io_class(value: object) -> str:
    if value not in ("idle", "best-effort"):
        raise Unusable
    return str(value)


COMPRESSION_FIELDS: tuple[Field, ...] = (
    ("codec", "codec", _codec),
    ("level", "level", integer),
    ("block_size", "block_size", byte_size),
    ("keep_raw", "keep_raw", flag),
)


ARCHIVER_FIELDS: tuple[Field, ...] = (
    ("poll_interval", "poll_ms", _milliseconds),
    ("reader_name", "reader_name", _text),
    ("stall_timeout", "stall_timeout_s", duration_s),
    ("progress_timeout", "progress_timeout_s", duration_s),
    ("missing_queue_timeout", "missing_queue_timeout_s", duration_s),
    ("refresh_when_idle", "refresh_when_idle_s", duration_s),
)


RESOURCE_FIELDS: tuple[Field, ...] = (
    ("nice", "nice", integer),
    ("io_class", "io_class", _io_class),
    ("io_level", "io_level", integer),
    ("cpu_affinity", "cpu_affinity", _cpu_list),
    ("compress_threads", "compress_threads", integer),
)


STORE_FIELDS: tuple[Field, ...] = (
    ("endpoint", "endpoint", _endpoint),
    ("region", "region", _text),
    ("addressing_style", "addressing_style", _addressing_style),
)


RESTART_FIELDS: tuple[Field, ...] = (
    ("initial_delay", "initial_delay_s", duration_s),
    ("max_delay", "max_delay_s", duration_s),
    ("healthy_after", "healthy_after_s", duration_s),
)
