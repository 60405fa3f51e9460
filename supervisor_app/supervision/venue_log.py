"""Reading back what an archiver last said in its log file, to explain a hold."""

from __future__ import annotations

import json
import os
from pathlib import Path

_TAIL_BYTES = 64 * 1024
_ERROR_LEVELS = frozenset({"error", "critical", "exception"})


def last_error(path: Path) -> str | None:
    """The message of the last error-level JSON line in the tail of `path`, if any."""
    try:
        with path.open("rb") as stream:
            stream.seek(max(0, stream.seek(0, os.SEEK_END) - _TAIL_BYTES))
            tail = stream.read()
    except OSError:
        return None
    for line in reversed(tail.splitlines()):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in _ERROR_LEVELS:
            return str(entry.get("error") or entry.get("event"))
    return None
