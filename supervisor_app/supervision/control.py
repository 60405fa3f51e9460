"""The fleet's control socket: one JSON request line and one JSON reply line per connection.

`run` serves it on `<state_dir>/control.sock` (mode 0600 inside the 0700 state
directory); status, start, stop, restart and reload all go through it to the one
engine, so an operator command never races the restart policy.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import socketserver
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from supervisor_app.errors import ControlError
from supervisor_app.supervision.commands import Command, Reload, Restart, Start, Status, Stop

if TYPE_CHECKING:
    from supervisor_app.supervision.engine import Engine

SOCKET_MODE = 0o600
MAX_MESSAGE = 1024 * 1024
_VENUE_COMMANDS: Mapping[str, type[Start] | type[Stop] | type[Restart]] = MappingProxyType(
    {"start": Start, "stop": Stop, "restart": Restart}
)

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def command_from_request(request: dict[str, Any]) -> Command:
    """The engine command a request asks for; ControlError if it asks for nothing we know."""
    op = request.get("op")
    if op == "status":
        return Status()
    if isinstance(op, str) and op in _VENUE_COMMANDS:
        if request.get("all") is True:
            return _VENUE_COMMANDS[op]((), every=True)
        venues = request.get("venues")
        if not isinstance(venues, list) or not venues or not all(isinstance(v, str) for v in venues):
            raise ControlError(f"{op} needs a non-empty list of venue names")
        return _VENUE_COMMANDS[op](tuple(venues))
    if op == "reload":
        config = request.get("config")
        return Reload(Path(config) if isinstance(config, str) else None)
    raise ControlError(f"unknown request {op!r}")


def engine_handler(engine: Engine, timeout_s: float) -> Handler:
    """Serve requests by handing them to `engine` and waiting for its answer."""

    def handle(request: dict[str, Any]) -> dict[str, Any]:
        try:
            future = engine.submit(command_from_request(request))
            return future.result(timeout=timeout_s)
        except ControlError as error:
            return {"ok": False, "error": str(error)}
        except FutureTimeout:
            return {"ok": False, "error": f"no answer from the engine within {timeout_s:.0f} s"}

    return handle


class _ThreadingServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True  # a client that hangs must not keep `run` from exiting

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a plain traceback; a client that hung up early is not news anyway.
        logging.getLogger(__name__).warning("control_connection_failed", exc_info=True)


class ControlServer:
    """A threaded unix-socket server; each connection carries one request."""

    def __init__(self, path: Path, handle: Handler) -> None:
        self._path = path
        self._handle = handle
        self._server: _ThreadingServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # Only the `run` holding the state directory's lock gets here: an old socket is stale.
        self._path.unlink(missing_ok=True)
        self._server = _ThreadingServer(str(self._path), self._request_handler())
        os.chmod(self._path, SOCKET_MODE)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.5,), name="control-socket", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._path.unlink(missing_ok=True)

    def _request_handler(self) -> type[socketserver.StreamRequestHandler]:
        handle = self._handle

        class _Connection(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                reply = _reply_to(self.rfile.readline(MAX_MESSAGE + 1), handle)
                self.wfile.write(json.dumps(reply).encode() + b"\n")

        return _Connection


def _reply_to(line: bytes, handle: Handler) -> dict[str, Any]:
    if len(line) > MAX_MESSAGE:
        return {"ok": False, "error": "request too large"}
    try:
        request = json.loads(line)
    except ValueError:
        return {"ok": False, "error": "the request is not JSON"}
    if not isinstance(request, dict):
        return {"ok": False, "error": "the request is not a JSON object"}
    return handle(request)


def request(path: Path, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Send one request to the fleet running with control socket `path`; ControlError if it cannot answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(str(path))
            sock.sendall(json.dumps(message).encode() + b"\n")
            reply = _read_line(sock)
    except (FileNotFoundError, ConnectionRefusedError) as error:
        raise ControlError(f"the fleet is not running (no control socket answers at {path})") from error
    except TimeoutError as error:
        raise ControlError(f"the fleet did not answer within {timeout_s:.0f} s") from error
    except OSError as error:
        raise ControlError(f"cannot talk to the fleet at {path}: {error}") from error
    try:
        answer = json.loads(reply)
    except ValueError as error:
        raise ControlError("the fleet sent a reply that is not JSON") from error
    if not isinstance(answer, dict):
        raise ControlError("the fleet sent a reply that is not a JSON object")
    return answer


def _read_line(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
        if chunk.endswith(b"\n") or sum(map(len, chunks)) > MAX_MESSAGE:
            break
    return b"".join(chunks)
