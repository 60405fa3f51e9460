"""Hands each operator command to its module, and turns its failure into an answer rather than the engine's end."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from supervisor_app.errors import SupervisordError
from supervisor_app.supervision.commands import (
    Command,
    Fleet,
    Reload,
    Reply,
    Restart,
    Shutdown,
    Start,
    Status,
    Stop,
    answer,
)
from supervisor_app.supervision.commands import reload as reload_command
from supervisor_app.supervision.commands import restart as restart_command
from supervisor_app.supervision.commands import shutdown as shutdown_command
from supervisor_app.supervision.commands import start as start_command
from supervisor_app.supervision.commands import status as status_command
from supervisor_app.supervision.commands import stop as stop_command

_HANDLERS: Mapping[type, Callable[[Any, Any, Future[Reply] | None], None]] = {
    Status: status_command.handle,
    Start: start_command.handle,
    Stop: stop_command.handle,
    Restart: restart_command.handle,
    Reload: reload_command.handle,
    Shutdown: shutdown_command.handle,
}


def dispatch(fleet: Fleet, command: Command, future: Future[Reply] | None) -> None:
    """Carry out `command` on the engine's thread; `future` gets its reply, or the error."""
    try:
        _HANDLERS[type(command)](fleet, command, future)
    except SupervisordError as error:
        # A slow supervisord fails this command; one that is gone is noticed by the next sync.
        fleet.log.error("command_failed", command=type(command).__name__.lower(), error=str(error))
        answer(future, {"ok": False, "error": str(error)})
    except Exception as error:  # one bad command must not end the supervision of every venue
        fleet.log.exception("command_failed", command=type(command).__name__.lower())
        answer(future, {"ok": False, "error": f"internal error: {error!r}"})
