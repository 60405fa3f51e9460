"""The structlog configuration of `chronicle-fleet` (run and the other commands).

JSON lines (``timestamp`` ISO-8601 UTC with ``Z``, ``level``, ``event``, ``pid`` and
the event's fields) whenever output is not a terminal; a readable console form on one.
Standard-library logging from libraries is rendered the same way. On the journal, each
line starts with its syslog priority (``<3>`` for error). The archiver writes the same
lines through `supervisor_app.json_log`, without structlog's memory.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any, TextIO

import structlog
import structlog.tracebacks
from structlog.typing import EventDict, WrappedLogger

from supervisor_app.journal import is_journal, priority_prefix


def _add_pid(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    event_dict.setdefault("pid", os.getpid())
    return event_dict


def _process_context(context: dict[str, Any]) -> Any:
    """Fields every line of this process carries (its venue, say), from every thread."""

    def add(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        for key, value in context.items():
            event_dict.setdefault(key, value)
        return event_dict

    return add


def _shared_processors(context: dict[str, Any]) -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_pid,
        _process_context(context),
    ]


def configure_logging(
    stream: TextIO | None = None,
    *,
    json: bool | None = None,
    level: int = logging.INFO,
    **context: Any,
) -> structlog.stdlib.BoundLogger:
    """Route structlog and stdlib logging to `stream` and return a logger bound to `context`.

    `json=None` picks JSON unless `stream` is a terminal.
    """
    stream = stream if stream is not None else sys.stderr
    if json is None:
        json = not (hasattr(stream, "isatty") and stream.isatty())
    renderer: Any
    if json:
        renderer = _journal_json() if is_journal(stream) else structlog.processors.JSONRenderer()
        # Locals can hold payload bytes and secrets; keep only the frames.
        exception_processor: Any = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
        )
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        exception_processor = None

    final = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if exception_processor is not None:
        final.append(exception_processor)
    final.append(renderer)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(context),
        processors=final,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)

    structlog.configure(
        processors=[
            *_shared_processors(context),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return structlog.get_logger("chronicle")


def _journal_json() -> Any:
    """JSON lines with their syslog priority in front, for journald."""
    render = structlog.processors.JSONRenderer()

    def prefixed(logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        return priority_prefix(event_dict.get("level", name)) + str(render(logger, name, event_dict))

    return prefixed


def log_uncaught_exceptions(log: Any) -> None:
    """Send exceptions nobody caught, in any thread, to `log` as one structured event, not a plain traceback."""

    def main_thread(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        log.critical("uncaught_exception", exc_info=(exc_type, exc, tb))

    def other_thread(args: threading.ExceptHookArgs) -> None:
        thread = args.thread.name if args.thread is not None else None
        log.critical("uncaught_exception", thread=thread, exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = main_thread
    threading.excepthook = other_thread
