"""The fleet's one logger: a JSON object per line, with the process's context and structured exceptions."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import threading

from supervisor_app.logs import JsonLogger, log_uncaught_exceptions


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_event_is_one_json_object_with_timestamp_level_pid_and_context() -> None:
    out = io.StringIO()
    log = JsonLogger(out, json_lines=True, venue="okx")
    log.info("segment_archived", segment_id=7)
    log.warning("slow", venue="override")
    first, second = _lines(out)
    assert first["event"] == "segment_archived" and first["level"] == "info" and first["segment_id"] == 7
    assert first["venue"] == "okx" and first["pid"] == os.getpid()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", first["timestamp"])
    assert second["venue"] == "override"  # an event's own field wins over the context


def test_an_exception_is_structured_not_a_traceback_text() -> None:
    out = io.StringIO()
    log = JsonLogger(out, json_lines=True)
    try:
        raise ValueError("bad segment")
    except ValueError:
        log.exception("failed")
    (entry,) = _lines(out)
    assert entry["level"] == "error"
    (exc,) = entry["exception"]
    assert exc["exc_type"] == "ValueError" and exc["exc_value"] == "bad segment"
    assert exc["frames"][-1]["name"] == "test_an_exception_is_structured_not_a_traceback_text"


def test_console_lines_are_readable() -> None:
    out = io.StringIO()
    JsonLogger(out, json_lines=False).error("queue_missing", venue="okx")
    line = out.getvalue()
    assert "[error   ] queue_missing" in line and "venue='okx'" in line
    assert not line.lstrip().startswith("{")


def test_a_closed_stream_does_not_raise() -> None:
    out = io.StringIO()
    log = JsonLogger(out, json_lines=True)
    out.close()
    log.error("nobody_listens")  # must not take the archiver down


def test_uncaught_exceptions_in_threads_become_one_event() -> None:
    out = io.StringIO()
    saved = threading.excepthook
    try:
        log_uncaught_exceptions(JsonLogger(out, json_lines=True))
        thread = threading.Thread(target=lambda: 1 / 0, name="publisher")
        thread.start()
        thread.join()
    finally:
        threading.excepthook = saved
        sys.excepthook = sys.__excepthook__
    (entry,) = _lines(out)
    assert entry["event"] == "uncaught_exception" and entry["level"] == "critical" and entry["thread"] == "publisher"
    assert entry["exception"][0]["exc_type"] == "ZeroDivisionError"
