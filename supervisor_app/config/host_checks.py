"""Checks against this host that `run` and `reload` make too: one queue reached by two spellings, missing cores.

Two venues whose queue paths differ as text can still be one directory (a symlink, a
bind mount): with the same reader name each would commit the shared position and skip
what the other archived. Only directories that exist can be compared; CI, where the
production paths do not exist, finds nothing here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from supervisor_app.config.problems import DataPath, Finding, render_path
from supervisor_app.config.resolve import Resolved


def host_findings(resolved: Resolved) -> list[Finding]:
    """Every problem of the config that only this host's disks and cores can show."""
    return [*aliased_queues(resolved), *missing_cores(resolved)]


def queue_identity(queue_dir: Path) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the directory a queue path leads to, or None when it does not exist."""
    try:
        info = os.stat(queue_dir)  # follows symlinks: the directory itself is what counts
    except OSError:
        return None
    return info.st_dev, info.st_ino


def aliased_queues(resolved: Resolved) -> Iterator[Finding]:
    """Venues with the same reader name on one directory reached through different paths."""
    first: dict[tuple[tuple[int, int], str], tuple[DataPath, str, Path]] = {}
    for number, venue in enumerate(resolved.config.venues):
        identity = queue_identity(venue.queue_dir)
        where = resolved.origin(("venues", number, "queue_dir"))
        if identity is None or where is None:
            continue
        key = (identity, venue.archiver.reader_name)
        if key in first:
            other_where, other_name, other_dir = first[key]
            if other_dir != venue.queue_dir:  # same text is the semantic check's finding already
                real = os.path.realpath(venue.queue_dir)
                message = (
                    f"{venue.queue_dir} is the same queue as {other_dir} of venue {other_name!r}"
                    f" ({render_path(other_where[:2])}; both are {real}) with the same reader name"
                    f" {venue.archiver.reader_name!r}: each archiver would skip what the other archived;"
                    " give one of them its own archiver.reader_name, or remove one"
                )
                yield Finding(where, message, see_also=other_where)
        first.setdefault(key, (where, venue.name, venue.queue_dir))


def missing_cores(resolved: Resolved) -> Iterator[Finding]:
    """cpu_affinity naming cores this host does not let us use."""
    usable = os.sched_getaffinity(0)
    for number, venue in enumerate(resolved.config.venues):
        cores = venue.archiver.resources.cpu_affinity
        where = resolved.origin(("venues", number, "archiver", "resources", "cpu_affinity"))
        if cores is None or where is None or not venue.enabled:
            continue
        absent = sorted(set(cores) - usable)
        if absent:
            yield Finding(
                where,
                f"cores {_cpu_text(absent)} are not available on this host (usable: {_cpu_text(sorted(usable))})",
            )


def _cpu_text(cores: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    ranges: list[str] = []
    start = previous = None
    for core in [*cores, None]:
        if core is not None and previous is not None and core == previous + 1:
            previous = core
            continue
        if start is not None:
            ranges.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = core
    return ",".join(ranges)
