"""Standard-library logging lands in the fleet's JSON lines."""

from __future__ import annotations

import io
import json
import logging

from supervisor_app.logs import JsonLogger
from supervisor_app.stdlib_logging import route_stdlib_logging


def test_library_records_become_json_events_at_their_level() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        route_stdlib_logging(JsonLogger(out, json_lines=True))
        logging.getLogger("urllib3.connectionpool").warning("retrying %s", "PUT")
        logging.getLogger("noisy").debug("not shown at INFO")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    (entry,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert entry["event"] == "retrying PUT" and entry["level"] == "warning"
    assert entry["logger"] == "urllib3.connectionpool"
