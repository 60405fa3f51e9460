"""Read an archive metadata file strictly: bounded size, JSON, then every field checked; failures name the file.

The checks are those of metadata.schema.json (tests hold the two together); they are
written out here because a JSON Schema validator costs about a millisecond per document,
more than the rest of recording a segment, and verify reads one document per segment. Every one is written by
`encode_json`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from supervisor_app.errors import CorruptArchiveError

SCHEMA_RESOURCE = "metadata.schema.json"
MAX_SIDECAR_BYTES = 1024 * 1024
MAX_META_BYTES = 256 * 1024 * 1024  # a v1 meta.json holds every entry inline
U64_MAX = 2**64 - 1
_MESSAGE_CHARS = 200


# A metadata file's path, or an object's s3:// URL: what messages name.
Source = Path | str


def read_json(path: Path, max_bytes: int) -> Any | None:
    """The parsed JSON in `path`, or None when there is no such file."""
    try:
        with path.open("rb") as f:
            # read(n) allocates n bytes up front: ask for the file's size, not for the 256 MiB cap.
            data = f.read(min(os.fstat(f.fileno()).st_size, max_bytes) + 1)
    except FileNotFoundError:
        return None
    return parse_json(data, path, max_bytes)


def parse_json(data: bytes, source: Source, max_bytes: int) -> Any:
    """The JSON document in `data`, read from `source` (at most `max_bytes` + 1 of it)."""
    if len(data) > max_bytes:
        raise CorruptArchiveError(f"{source}: larger than {max_bytes} bytes, more than any metadata file we write")
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        # RecursionError: hostile nesting; ValueError covers bad UTF-8, bad JSON and over-long integers.
        raise CorruptArchiveError(f"{source}: not valid JSON: {shorten(str(exc) or type(exc).__name__)}") from exc


def encode_json(document: dict[str, Any]) -> bytes:
    """A metadata file's content: 2-space indented, like the reference's meta.json."""
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def corrupt(path: Source, field: str, message: str) -> CorruptArchiveError:
    """The error for one bad field of one metadata file."""
    return CorruptArchiveError(f"{path}: {field}: {message}" if field else f"{path}: {message}")


def shorten(text: str) -> str:
    """`text`, cut to a length fit for an error message (a damaged file may hold megabytes in one field)."""
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "..."


class Fields:
    """One JSON object of a metadata file, read field by field; each getter checks type and range."""

    def __init__(self, data: Any, path: Source, where: str = "") -> None:
        if not isinstance(data, dict):
            raise corrupt(path, where, f"is {_shown(data)}, not an object")
        self._data: dict[str, Any] = data
        self.path = path
        self.where = where

    def has(self, key: str) -> bool:
        return key in self._data

    def integer(self, key: str, *, minimum: int = 0, maximum: int = U64_MAX) -> int:
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(key, f"{_shown(value)} is not an integer")
        if not minimum <= value <= maximum:
            raise self.error(key, f"{_shown(value)} is outside {minimum}..{maximum}")
        return value

    def boolean(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self.error(key, f"{_shown(value)} is not true or false")
        return value

    def optional_integer(self, key: str, *, minimum: int = 0, maximum: int = U64_MAX) -> int | None:
        return None if self._get(key) is None else self.integer(key, minimum=minimum, maximum=maximum)

    def text(
        self, key: str, *, min_chars: int = 0, max_chars: int = 255, pattern: re.Pattern[str] | None = None
    ) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self.error(key, f"{_shown(value)} is not a string")
        if len(value) < min_chars:
            raise self.error(key, "is empty")
        if len(value) > max_chars:
            raise self.error(key, f"is {len(value)} characters long, more than {max_chars}")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.error(key, f"{_shown(value)} does not match {pattern.pattern}")
        return value

    def optional_text(self, key: str, *, max_chars: int = 255, required: bool = True) -> str | None:
        if (not required and key not in self._data) or self._get(key) is None:
            return None
        return self.text(key, max_chars=max_chars)

    def time_range(self, key: str, *, required: bool = True) -> tuple[int, int] | None:
        """A `[first_ns, last_ns]` pair, or None."""
        if not required and key not in self._data:
            return None
        value = self._get(key)
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != 2:
            raise self.error(key, f"{_shown(value)} is not a [first_ns, last_ns] pair")
        for i, bound in enumerate(value):
            if not isinstance(bound, int) or isinstance(bound, bool) or not 0 <= bound <= U64_MAX:
                raise corrupt(
                    self.path, f"{self._field(key)}[{i}]", f"{_shown(bound)} is not an integer in 0..{U64_MAX}"
                )
        first, last = value
        if first > last:
            raise self.error(key, f"starts after it ends: {value}")
        return first, last

    def object(self, key: str) -> Fields:
        return Fields(self._get(key), self.path, self._field(key))

    def optional_object(self, key: str) -> Fields | None:
        return None if self._get(key) is None else self.object(key)

    def objects(self, key: str, *, max_items: int | None = None, required: bool = True) -> list[Fields]:
        if not required and key not in self._data:
            return []
        value = self._get(key)
        if not isinstance(value, list):
            raise self.error(key, f"{_shown(value)} is not a list")
        if max_items is not None and len(value) > max_items:
            raise self.error(key, f"holds {len(value)} items, more than {max_items}")
        return [Fields(item, self.path, f"{self._field(key)}[{i}]") for i, item in enumerate(value)]

    def integers(self, key: str, *, length: int) -> tuple[int, ...]:
        """A list of exactly `length` non-negative integers."""
        value = self._get(key)
        if not isinstance(value, list) or len(value) != length:
            raise self.error(key, f"{_shown(value)} is not a list of {length} counts")
        return tuple(
            Fields({"item": item}, self.path, f"{self._field(key)}[{i}]").integer("item")
            for i, item in enumerate(value)
        )

    def error(self, key: str, message: str) -> CorruptArchiveError:
        return corrupt(self.path, self._field(key), message)

    def _get(self, key: str) -> Any:
        if key not in self._data:
            raise corrupt(self.path, self.where, f"{key!r} is missing")
        return self._data[key]

    def _field(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"a JSON {'object' if isinstance(value, dict) else 'list'}"
    return shorten(json.dumps(value) if not isinstance(value, float) else repr(value))
