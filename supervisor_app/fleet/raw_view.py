"""A forgiving view of not-yet-valid config data, so that checks beyond the schema run anyway.

Each accessor skips what is malformed (the schema reports that) and returns
what can be worked out, so one run reports every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.fleet.config import ArchiverSettings, BusSource
from supervisor_app.fleet.paths import resolve_path
from supervisor_app.fleet.problems import DataPath


@dataclass(frozen=True)
class RawSource:
    """The queue a venue reads, as far as the data says."""

    venue_index: int
    key: str  # "bus" or "queue": where a problem about the source points
    queue_dir: Path
    reader_name: str
    enabled: bool

    @property
    def path(self) -> DataPath:
        return ("venues", self.venue_index, self.key)


def section(data: object, *keys: str) -> Mapping[str, object]:
    """The mapping at `keys` below `data`, or an empty one when anything on the way is not a mapping."""
    for key in keys:
        data = data.get(key) if isinstance(data, Mapping) else None
    return data if isinstance(data, Mapping) else {}


def text_at(data: object, *keys: str) -> str | None:
    """The string at `keys`, or None."""
    value = section(data, *keys[:-1]).get(keys[-1])
    return value if isinstance(value, str) else None


def path_at(data: object, base: Path, *keys: str) -> Path | None:
    """The path at `keys` resolved against `base`, or None when it is not a usable path."""
    return usable_path(base, text_at(data, *keys))


def usable_path(base: Path, text: object) -> Path | None:
    """`text` resolved against `base` when it is a non-empty string without NUL, else None."""
    if not isinstance(text, str) or not text or "\0" in text:
        return None
    return resolve_path(base, text)


def venues(data: object) -> list[tuple[int, Mapping[str, object]]]:
    """(index, venue) for each venue that is a mapping."""
    items = section(data).get("venues")
    if not isinstance(items, list):
        return []
    return [(index, venue) for index, venue in enumerate(items) if isinstance(venue, Mapping)]


def bus_roots(data: object, base: Path) -> dict[str, Path]:
    """Each declared bus with a usable root path."""
    roots = {name: usable_path(base, root) for name, root in section(data, "buses").items()}
    return {name: root for name, root in roots.items() if root is not None}


def sources(data: object, base: Path) -> list[RawSource]:
    """The source of each venue whose queue directory can be worked out."""
    roots = bus_roots(data, base)
    found = (_source(index, venue, data, base, roots) for index, venue in venues(data))
    return [source for source in found if source is not None]


def _source(
    index: int, venue: Mapping[str, object], data: object, base: Path, roots: dict[str, Path]
) -> RawSource | None:
    reader = text_at(venue, "archiver", "reader_name") or text_at(data, "defaults", "archiver", "reader_name")
    reader = reader or ArchiverSettings().reader_name
    enabled = venue.get("enabled", True) is not False
    name, bus = venue.get("name"), venue.get("bus")
    if isinstance(bus, str) and bus in roots and isinstance(name, str) and name:
        return RawSource(index, "bus", BusSource(bus, roots[bus]).queue_dir(name), reader, enabled)
    queue = usable_path(base, venue.get("queue"))
    return None if queue is None else RawSource(index, "queue", queue, reader, enabled)
