"""Checks the schema cannot express, on the typed config: duplicates, shared readers, overlapping paths, delays.

Each check speaks only of values the file declares (they have an origin), so a
value the file does not give usably is never blamed twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from supervisor_app.archive_root import ArchiveRoot
from supervisor_app.config.paths import is_within
from supervisor_app.config.problems import DataPath, Finding, render_path
from supervisor_app.config.resolve import Resolved, TypedPath
from supervisor_app.units import show_duration


def semantic_findings(resolved: Resolved) -> list[Finding]:
    """Every cross-field problem of the resolved config, references that lead nowhere included."""
    return [
        *resolved.findings,
        *duplicate_venue_names(resolved),
        *shared_reader_positions(resolved),
        *overlapping_paths(resolved),
        *restart_delays(resolved),
    ]


def duplicate_venue_names(resolved: Resolved) -> Iterator[Finding]:
    """A venue name is an archive directory and a process name: it must be unique."""
    first: dict[str, DataPath] = {}
    for number, venue in enumerate(resolved.config.venues):
        where = resolved.origin(("venues", number, "name"))
        assert where is not None, "a resolved venue has a declared name"
        if venue.name in first:
            yield Finding(where, f"duplicate venue name {venue.name!r} (first at {render_path(first[venue.name][:2])})")
        first.setdefault(venue.name, where)


def shared_reader_positions(resolved: Resolved) -> Iterator[Finding]:
    """Two archivers with one reader name on one queue would overwrite each other's position."""
    first: dict[tuple[Path, str], DataPath] = {}
    for number, venue in enumerate(resolved.config.venues):
        where = _source_origin(resolved, number)
        key = (venue.queue_dir, venue.archiver.reader_name)
        if key in first:
            message = (
                f"reads the same queue as {render_path(first[key][:2])} with the same reader name"
                f" {venue.archiver.reader_name!r}; give one of them its own archiver.reader_name"
            )
            yield Finding(where, message)
        first.setdefault(key, where)


def overlapping_paths(resolved: Resolved) -> Iterator[Finding]:
    """Archives, state and logs must not be written inside a source, nor a source inside a local archive.

    An archive root in an object store (s3://) has no place on this host's disks: it overlaps nothing.
    """
    config = resolved.config
    archives = [_declared(resolved, ("archive_root",), _local(config.archive_root))]
    archives += [
        _declared(resolved, ("venues", number, "archive_root"), _local(venue.archive_root))
        for number, venue in enumerate(config.venues)
    ]
    writers = [
        *archives,
        _declared(resolved, ("supervisor", "state_dir"), config.supervisor.state_dir),
        _declared(resolved, ("supervisor", "logs", "directory"), config.supervisor.logs.directory),
        _declared(resolved, ("supervisor", "metrics", "textfile"), config.supervisor.metrics.textfile),
    ]
    for source_path, source in _source_dirs(resolved):
        for archive in archives:
            if archive is not None and is_within(source, archive[1]) and source != archive[1]:
                yield Finding(source_path, f"{source} lies inside archive_root ({archive[1]})")
        for writer in writers:
            if writer is not None and is_within(writer[1], source):
                writer_path, directory = writer
                relation = "is" if directory == source else "lies inside"
                yield Finding(
                    writer_path, f"{directory} {relation} the source at {render_path(source_path)} ({source})"
                )


def _local(root: ArchiveRoot | None) -> Path | None:
    return root if isinstance(root, Path) else None


def _declared(resolved: Resolved, typed: TypedPath, value: Path | None) -> tuple[DataPath, Path] | None:
    origin = resolved.origin(typed)
    return None if origin is None or value is None else (origin, value)


def _source_dirs(resolved: Resolved) -> list[tuple[DataPath, Path]]:
    """Each bus root and each queue directory given outright, with where it is declared."""
    config = resolved.config
    buses = [(resolved.origins[("buses", number)], bus.root) for number, bus in enumerate(config.buses)]
    queues = [
        (_source_origin(resolved, number), venue.queue_dir)
        for number, venue in enumerate(config.venues)
        if venue.source == "queue"
    ]
    return buses + queues


def _source_origin(resolved: Resolved, number: int) -> DataPath:
    where = resolved.origin(("venues", number, "queue_dir"))
    assert where is not None, "a resolved venue has a declared source"
    return where


def restart_delays(resolved: Resolved) -> Iterator[Finding]:
    """The backoff grows from initial_delay to max_delay, so max_delay must not be smaller."""
    restart = resolved.config.restart
    if restart.max_delay_s >= restart.initial_delay_s:
        return
    where = resolved.origin(("restart", "max_delay_s")) or resolved.origin(("restart", "initial_delay_s"))
    assert where is not None, "the built-in delays are in order"
    message = (
        f"max_delay ({show_duration(restart.max_delay_s)}) is less than initial_delay"
        f" ({show_duration(restart.initial_delay_s)})"
    )
    yield Finding(where, message)
