"""Copy a child's output pipe line by line: JSON lines pass through, anything else is wrapped as JSON."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from typing import Any

MAX_LINE = 1024 * 1024  # a longer run without a newline is passed on in pieces
_CHUNK = 65536


def json_object(line: bytes) -> dict[str, Any] | None:
    """The JSON object on one line (what every fleet log line must be), or None when it is not one."""
    if not line.startswith(b"{"):
        return None
    try:
        entry = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return entry if isinstance(entry, dict) else None


def relay_lines(source: io.BufferedReader, on_line: Callable[[bytes], None]) -> None:
    """Call `on_line` with each line of `source` (without its newline) until end of file."""
    pending = b""
    while chunk := source.read1(_CHUNK):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            on_line(line)
        while len(pending) > MAX_LINE:
            on_line(pending[:MAX_LINE])
            pending = pending[MAX_LINE:]
    if pending:
        on_line(pending)


def start_relay(name: str, source: io.BufferedReader, on_line: Callable[[bytes], None]) -> threading.Thread:
    """Relay `source` on a daemon thread; it ends by itself when the child closes the pipe."""
    thread = threading.Thread(target=relay_lines, args=(source, on_line), name=name, daemon=True)
    thread.start()
    return thread
