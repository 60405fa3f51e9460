"""The one logger every process of the fleet uses: JSON lines, or a readable line per event on a terminal.

Each line is one object: `timestamp` (ISO-8601 UTC with `Z`), `level`, `event`, `pid`,
the process's context (its venue, say) and the event's fields. On the journal each line
starts with its syslog priority. It is written here rather than with structlog, whose
import alone costs ~12 MiB of RSS (asyncio, through its stdlib integration): an idle
archiver must stay under 16 MiB and `run` under 30 MiB.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any, TextIO

from supervisor_app.journal import is_journal, priority_prefix
from supervisor_app.timefmt import iso_utc

LEVELS = frozenset({"debug", "info", "warning", "error", "critical"})


class JsonLogger:
    """One JSON object per line on `stream` (or a readable line on a terminal); safe from every thread."""

    def __init__(self, stream: TextIO | None = None, *, json_lines: bool | None = None, **context: Any) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._json = json_lines if json_lines is not None else not self._stream.isatty()
        self._prefix = is_journal(self._stream)
        self._context = context
        self._lock = threading.Lock()

    def debug(self, event: str, **fields: Any) -> None:
        self._write("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._write("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._write("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._write("error", event, fields)

    def critical(self, event: str, **fields: Any) -> None:
        self._write("critical", event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._write("error", event, {**fields, "exc_info": True})

    def write(self, level: str, event: str, fields: dict[str, Any]) -> None:
        """One event at `level` (debug, info, warning, error, critical)."""
        self._write(level, event, fields)

    def _write(self, level: str, event: str, fields: dict[str, Any]) -> None:
        entry: dict[str, Any] = {**fields, "event": event, "level": level, "timestamp": iso_utc(time.time())}
        entry.setdefault("pid", os.getpid())
        for key, value in self._context.items():
            entry.setdefault(key, value)
        exc_info = entry.pop("exc_info", None)
        if exc_info:
            entry["exception"] = _exception(sys.exc_info() if exc_info is True else exc_info)
        line = self._render(level, entry)
        with self._lock:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (OSError, ValueError):
                pass  # like logging's handlers: a log nobody can read must not stop the archiving

    def _render(self, level: str, entry: dict[str, Any]) -> str:
        if self._json:
            text = json.dumps(entry, default=str)
            return priority_prefix(level) + text if self._prefix else text
        rest = " ".join(f"{k}={v!r}" for k, v in entry.items() if k not in ("timestamp", "level", "event"))
        return f"{entry['timestamp']} [{level:<8}] {entry['event']:<24} {rest}"


def log_uncaught_exceptions(log: JsonLogger) -> None:
    """Send exceptions nobody caught, in any thread, to `log` as one structured event, not a plain traceback."""

    def main_thread(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        log.critical("uncaught_exception", exc_info=(exc_type, exc, tb))

    def other_thread(args: threading.ExceptHookArgs) -> None:
        thread = args.thread.name if args.thread is not None else None
        log.critical("uncaught_exception", thread=thread, exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = main_thread
    threading.excepthook = other_thread


def _exception(exc_info: Any) -> list[dict[str, Any]]:
    """The exception as structured data (like structlog's dict transformer): type, value and frames, no locals."""
    exc_type, exc, tb = exc_info
    if exc_type is None:
        return []
    import traceback  # here: with textwrap, ~0.3 MiB that an archiver that never fails need not load

    frames = [{"filename": f.filename, "lineno": f.lineno, "name": f.name} for f in traceback.extract_tb(tb)]
    return [{"exc_type": exc_type.__name__, "exc_value": str(exc), "frames": frames}]
