"""XML-RPC to our supervisord over its unix socket: typed answers, SupervisordError on failure.

The wire (`xmlrpc_wire`, `unix_http`) is ours, not `xmlrpc.client`'s: that loads `http.client` and with it
`ssl`, and OpenSSL would cost `run` ~4 MiB of RSS for a unix socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor_app.errors import SupervisordError
from supervisor_app.supervision.supervisord.unix_http import HttpError, UnixHttpConnection
from supervisor_app.supervision.supervisord.xmlrpc_wire import Fault, WireError, decode_response, encode_call


class Faults:
    """supervisord's XML-RPC fault codes we act on (supervisor.xmlrpc.Faults; importing that costs `run` ~6 MiB).

    tests/supervision/supervisord/test_plugin_contract.py checks they still match.
    """

    BAD_NAME = 10
    NOT_RUNNING = 70
    ALREADY_STARTED = 60
    SPAWN_ERROR = 50
    ALREADY_ADDED = 90
    SHUTDOWN_STATE = 6


@dataclass(frozen=True)
class ProcessChange:
    """One state change of one program, from the `chronicle` plugin's feed."""

    serial: int
    name: str
    state: str  # supervisord's state name: STARTING, RUNNING, EXITED, STOPPED, FATAL, ...
    from_state: str
    pid: int  # the child's pid; for EXITED/STOPPED, the pid that ended
    started_at: float  # wall clock of the last spawn
    time: float  # wall clock of the change
    exitstatus: int | None = None  # on EXITED/STOPPED: the code, or -1 when a signal killed it
    signal: str | None = None  # on EXITED/STOPPED after a signal: its name
    stopped_at: float | None = None
    spawnerr: str | None = None


@dataclass(frozen=True)
class ChangeBatch:
    """The feed's answer: changes after a serial, and whether any were lost in between."""

    feed: str
    serial: int
    complete: bool
    changes: tuple[ProcessChange, ...]


@dataclass(frozen=True)
class ProcessInfo:
    """supervisord's current view of one program."""

    name: str
    state: str
    pid: int
    started_at: float
    exitstatus: int


class SupervisordClient:
    """One connection to supervisord; use it from one thread."""

    def __init__(self, socket_path: Path, timeout_s: float = 10.0) -> None:
        self._socket_path = socket_path
        self._connection = UnixHttpConnection(socket_path, timeout_s)

    def close(self) -> None:
        self._connection.close()

    def state(self) -> str:
        """supervisord's own state: STARTING, RUNNING, RESTARTING or SHUTDOWN."""
        return str(self._call("supervisor.getState")["statename"])

    def changes(self, since: int) -> ChangeBatch:
        answer = self._call("chronicle.getChanges", (since,))
        changes = tuple(ProcessChange(**change) for change in answer["changes"])
        return ChangeBatch(str(answer["feed"]), int(answer["serial"]), bool(answer["complete"]), changes)

    def processes(self) -> list[ProcessInfo]:
        infos = self._call("supervisor.getAllProcessInfo")
        return [ProcessInfo(i["name"], i["statename"], i["pid"], float(i["start"]), i["exitstatus"]) for i in infos]

    def start(self, name: str) -> bool:
        """Spawn `name` without waiting; False if it already runs or could not spawn (the feed then says FATAL)."""
        return (
            self._call(
                "supervisor.startProcess",
                (name, False),
                ignore={Faults.ALREADY_STARTED, Faults.SPAWN_ERROR},
                default=False,
            )
            is True
        )

    def start_many(self, names: list[str]) -> list[bool]:
        """start() for each name in one round trip: supervisord forks them all before any gets busy."""
        calls = [{"methodName": "supervisor.startProcess", "params": [name, False]} for name in names]
        results = self._call("system.multicall", (calls,))
        for name, result in zip(names, results, strict=True):
            if isinstance(result, dict) and result.get("faultCode") not in (
                None,
                Faults.ALREADY_STARTED,
                Faults.SPAWN_ERROR,
            ):
                raise SupervisordError(f"supervisord refused to start {name}: {result.get('faultString')}")
        return [result is True for result in results]

    def stop(self, name: str) -> bool:
        """Send the stop signal without waiting; False if it was not running."""
        return self._call("supervisor.stopProcess", (name, False), ignore={Faults.NOT_RUNNING}, default=False) is True

    def signal(self, name: str, signal_name: str) -> bool:
        """Send a signal (e.g. "KILL") to a running program; False if it was not running."""
        return (
            self._call(
                "supervisor.signalProcess",
                (name, signal_name),
                ignore={Faults.NOT_RUNNING},
                default=False,
            )
            is True
        )

    def reread(self) -> tuple[list[str], list[str], list[str]]:
        """Make supervisord read its config file again; (added, changed, removed) groups."""
        added, changed, removed = self._call("supervisor.reloadConfig")[0]
        return list(added), list(changed), list(removed)

    def add_group(self, name: str) -> None:
        self._call("supervisor.addProcessGroup", (name,), ignore={Faults.ALREADY_ADDED})

    def remove_group(self, name: str) -> None:
        self._call("supervisor.removeProcessGroup", (name,), ignore={Faults.BAD_NAME})

    def shutdown(self) -> None:
        self._call("supervisor.shutdown", ignore={Faults.SHUTDOWN_STATE})

    def _call(
        self,
        method: str,
        params: tuple[Any, ...] = (),
        *,
        ignore: frozenset[int] | set[int] = frozenset(),
        default: Any = None,
    ) -> Any:
        """The XML-RPC answer (untyped, as the wire gives it), or `default` for an ignored fault."""
        try:
            return decode_response(self._connection.post("/RPC2", encode_call(method, params), "text/xml"))
        except Fault as fault:
            if fault.code in ignore:
                return default
            raise SupervisordError(f"supervisord refused: {fault.text}") from fault
        except (OSError, HttpError, WireError) as error:
            # The connection may be half-used: start the next call on a fresh one.
            self._connection.close()
            raise SupervisordError(f"cannot talk to supervisord at {self._socket_path}: {error}") from error
