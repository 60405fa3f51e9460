"""Checks the schema cannot express: duplicates, references, overlapping paths, related delays."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from supervisor_app.fleet import raw_view
from supervisor_app.fleet.config import RestartPolicy
from supervisor_app.fleet.paths import is_within
from supervisor_app.fleet.problems import DataPath, Finding, render_path
from supervisor_app.fleet.units import parse_duration, show_duration


def semantic_findings(data: object, base: Path) -> list[Finding]:
    """Every cross-field problem in `data`; relative paths resolve against `base`."""
    return [
        *duplicate_venue_names(data),
        *unknown_buses(data),
        *shared_reader_positions(data, base),
        *overlapping_paths(data, base),
        *restart_delays(data),
    ]


def duplicate_venue_names(data: object) -> Iterator[Finding]:
    """A venue name is an archive directory and a process name: it must be unique."""
    first: dict[str, int] = {}
    for index, venue in raw_view.venues(data):
        name = venue.get("name")
        if not isinstance(name, str):
            continue
        if name in first:
            yield Finding(("venues", index, "name"), f"duplicate venue name {name!r} (first at venues[{first[name]}])")
        first.setdefault(name, index)


def unknown_buses(data: object) -> Iterator[Finding]:
    """A venue's bus must be declared under `buses`."""
    declared = list(raw_view.section(data, "buses"))
    listing = ", ".join(repr(name) for name in declared) or "none"
    for index, venue in raw_view.venues(data):
        bus = venue.get("bus")
        if isinstance(bus, str) and bus not in declared:
            yield Finding(("venues", index, "bus"), f"unknown bus {bus!r} (declared buses: {listing})")


def shared_reader_positions(data: object, base: Path) -> Iterator[Finding]:
    """Two archivers with one reader name on one queue would overwrite each other's position."""
    first: dict[tuple[Path, str], int] = {}
    for source in raw_view.sources(data, base):
        key = (source.queue_dir, source.reader_name)
        if key in first:
            message = (
                f"reads the same queue as venues[{first[key]}] with the same reader name {source.reader_name!r};"
                " give one of them its own archiver.reader_name"
            )
            yield Finding(source.path, message)
        first.setdefault(key, source.venue_index)


def overlapping_paths(data: object, base: Path) -> Iterator[Finding]:
    """Archives, state and logs must not be written inside a source, nor a source inside the archive."""
    archive = raw_view.path_at(data, base, "archive_root")
    writers = [
        (("supervisor", "state_dir"), raw_view.path_at(data, base, "supervisor", "state_dir")),
        (("supervisor", "log_dir"), _log_dir(data, base)),
    ]
    for source_path, source in _source_dirs(data, base):
        if archive is not None and is_within(source, archive) and source != archive:
            yield Finding(source_path, f"{source} lies inside archive_root ({archive})")
        for writer_path, writer in [(("archive_root",), archive), *writers]:
            if writer is not None and is_within(writer, source):
                relation = "is" if writer == source else "lies inside"
                yield Finding(writer_path, f"{writer} {relation} the source at {render_path(source_path)} ({source})")


def _source_dirs(data: object, base: Path) -> list[tuple[DataPath, Path]]:
    """Each bus root and each queue directory given outright, with where it is declared."""
    buses = [(("buses", name), root) for name, root in raw_view.bus_roots(data, base).items()]
    queues = [(source.path, source.queue_dir) for source in raw_view.sources(data, base) if source.key == "queue"]
    return buses + queues


def _log_dir(data: object, base: Path) -> Path | None:
    text = raw_view.text_at(data, "supervisor", "log_dir")
    return None if text == "stdout" else raw_view.usable_path(base, text)


def restart_delays(data: object) -> Iterator[Finding]:
    """The backoff grows from initial_delay to max_delay, so max_delay must not be smaller."""
    restart = raw_view.section(data, "restart")
    initial = parse_duration(restart.get("initial_delay", RestartPolicy.initial_delay_s))
    longest = parse_duration(restart.get("max_delay", RestartPolicy.max_delay_s))
    if initial is None or longest is None or longest >= initial:
        return
    where = "max_delay" if "max_delay" in restart else "initial_delay"
    message = f"max_delay ({show_duration(longest)}) is less than initial_delay ({show_duration(initial)})"
    yield Finding(("restart", where), message)
