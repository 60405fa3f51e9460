"""Standard-library logging (libraries, the control socket's server) routed into the fleet's JSON logger.

Apart from `logs` because `logging` costs an archiver memory it does not need.
"""

from __future__ import annotations

import logging
from typing import Any

from supervisor_app.logs import LEVELS, JsonLogger


class StdlibBridge(logging.Handler):
    """Standard-library logging (from libraries, or our socket server's errors) into the same JSON lines."""

    def __init__(self, log: JsonLogger) -> None:
        super().__init__()
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        fields: dict[str, Any] = {"logger": record.name}
        if record.exc_info:
            fields["exc_info"] = record.exc_info
        level = record.levelname.lower()
        self._log.write(level if level in LEVELS else "info", record.getMessage(), fields)


def route_stdlib_logging(log: JsonLogger, level: int = logging.INFO) -> None:
    """Make `log` the only handler of the root logger."""
    root = logging.getLogger()
    root.handlers[:] = [StdlibBridge(log)]
    root.setLevel(level)
