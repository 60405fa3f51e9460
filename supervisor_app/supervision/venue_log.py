"""What an archiver last said at error level, to explain a hold or a backoff: from its log file, or from stdout."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

_TAIL_BYTES = 64 * 1024
_ERROR_LEVELS = frozenset({"error", "critical", "exception"})


class LastErrors:
    """The last error each venue's archiver wrote to the shared stdout (journald mode), from the relay thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_venue: dict[str, str] = {}

    def note(self, entry: dict[str, Any]) -> None:
        """Called with every JSON line an archiver writes."""
        venue = entry.get("venue")
        if isinstance(venue, str) and entry.get("level") in _ERROR_LEVELS:
            with self._lock:
                self._by_venue[venue] = _message(entry)

    def take(self, venue: str) -> str | None:
        """The venue's last error since the last take (each exit explains itself once)."""
        with self._lock:
            return self._by_venue.pop(venue, None)


def _message(entry: dict[str, Any]) -> str:
    return str(entry.get("error") or entry.get("event"))


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
            return _message(entry)
    return None
