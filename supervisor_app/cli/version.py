"""`--version`: the package version and the record scanner this install uses (the C one is ~20x faster)."""

from __future__ import annotations

from supervisor_app import __version__
from supervisor_app.chronicle.records import SCANNER_IMPLEMENTATION


def version_line(program: str) -> str:
    return f"{program} {__version__} (record scanner: {SCANNER_IMPLEMENTATION})"
