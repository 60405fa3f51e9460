"""Command lines of the project's own programs, for tests that run them as real processes."""

from __future__ import annotations

import sys
from pathlib import Path

FLEET = [sys.executable, "-m", "supervisor_app"]


def archiver_cmd(queue: Path, root: Path, venue: str, *extra: str) -> list[str]:
    """`chronicle-raw-archiver` for one venue, run from this interpreter (no PATH lookup)."""
    archiver = [sys.executable, "-m", "supervisor_app.cli.archiver"]
    return [*archiver, "--source", str(queue), "--archive-root", str(root), "--venue", venue, *extra]
