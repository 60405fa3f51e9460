"""Deploy-time checks against the disk: sources readable, archive root writable.

Off in CI, where the paths of a production host do not exist. Disabled venues
are not checked: their queue may not exist yet.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from supervisor_app.config.problems import Finding
from supervisor_app.config.resolve import Resolved

_READABLE_DIR = os.R_OK | os.X_OK
_WRITABLE_DIR = os.W_OK | os.X_OK


def path_findings(resolved: Resolved) -> list[Finding]:
    """Problems with the directories the config names, as they are on this host now."""
    findings = [
        Finding(where, f"queue directory {venue.queue_dir} {problem}")
        for number, venue in enumerate(resolved.config.venues)
        if venue.enabled and (where := resolved.origin(("venues", number, "queue_dir"))) is not None
        for problem in _directory_problems(venue.queue_dir, _READABLE_DIR, "readable")
    ]
    if resolved.origin(("archive_root",)) is not None:
        findings += [Finding(("archive_root",), problem) for problem in _archive_root_problems(resolved)]
    return findings


def _archive_root_problems(resolved: Resolved) -> Iterator[str]:
    """A root that must exist must be there; one that may be created must be creatable."""
    archive = resolved.config.archive_root
    if archive.exists() or resolved.config.archive_root_must_exist:
        for problem in _directory_problems(archive, _WRITABLE_DIR, "writable"):
            hint = " (archive_root_must_exist is true: is it mounted?)" if problem == "does not exist" else ""
            yield f"{archive} {problem}{hint}"
        return
    parent = next(p for p in archive.parents if p.exists())  # the archivers create the rest
    for problem in _directory_problems(parent, _WRITABLE_DIR, "writable"):
        yield f"{archive} cannot be created: {parent} {problem}"


def _directory_problems(directory: Path, access: int, wanted: str) -> Iterator[str]:
    """At most one phrase saying what is wrong with `directory`."""
    if not directory.exists():
        yield "does not exist"
    elif not directory.is_dir():
        yield "is not a directory"
    elif not os.access(directory, access):
        yield f"is not {wanted} by this user"
