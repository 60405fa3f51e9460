"""Deploy-time checks against the disk: sources readable, archive root writable.

Off in CI, where the paths of a production host do not exist. Disabled venues
are not checked: their queue may not exist yet.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from supervisor_app.fleet import raw_view
from supervisor_app.fleet.problems import Finding

_READABLE_DIR = os.R_OK | os.X_OK
_WRITABLE_DIR = os.W_OK | os.X_OK


def path_findings(data: object, base: Path) -> list[Finding]:
    """Problems with the directories `data` names, as they are on this host now."""
    findings = [
        Finding(source.path, f"queue directory {source.queue_dir} {problem}")
        for source in raw_view.sources(data, base)
        if source.enabled
        for problem in _directory_problems(source.queue_dir, _READABLE_DIR, "readable")
    ]
    archive = raw_view.path_at(data, base, "archive_root")
    if archive is not None:
        problems = _directory_problems(archive, _WRITABLE_DIR, "writable")
        findings += [Finding(("archive_root",), f"{archive} {problem}") for problem in problems]
    return findings


def _directory_problems(directory: Path, access: int, wanted: str) -> Iterator[str]:
    """At most one phrase saying what is wrong with `directory`."""
    if not directory.exists():
        yield "does not exist"
    elif not directory.is_dir():
        yield "is not a directory"
    elif not os.access(directory, access):
        yield f"is not {wanted} by this user"
