"""THIS MODULE RUNS INSIDE SUPERVISORD (loaded as an rpcinterface plugin), not in `chronicle-fleet run`.

It gives the engine a prompt, cheap feed of process state changes, as XML-RPC namespace `chronicle`.

supervisord answers "what is every state now" (getAllProcessInfo: ~4 ms of CPU on each
side for 64 programs); the engine asks "what changed since serial N", which is nearly
free, and only when this plugin has poked its wake socket after a change.

Two gaps in supervisord are filled here. It keeps only -1 as the exit status of a
child a signal killed; the signal's name is in its log line alone, so the plugin reads
that line. And it reaps a dead child only when its main loop wakes, which SIGCHLD alone
does not do (Python restarts the interrupted poll), so a crash could wait for the loop's
1 s timeout; the plugin makes every signal wake that loop.

Its imports stay light (supervisor and the standard library; the packages above it
re-export nothing) so that supervisord does not load the config loader (YAML,
jsonschema: ~7 MB of RSS) with it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import time
from collections import deque
from typing import Any

from supervisor import events
from supervisor.loggers import Handler, LevelsByName
from supervisor.medusa import asyncore_25 as asyncore
from supervisor.states import ProcessStates, getProcessStateDescription

MAX_CHANGES = 20_000  # a burst bigger than this makes the engine resynchronise from getAllProcessInfo
_ENDED = (ProcessStates.EXITED, ProcessStates.STOPPED)
# supervisord's own wording (supervisor.process.Subprocess.finish); stable since 3.0.
_KILLED_LINE = re.compile(r"^(?:exited|stopped): (?P<name>\S+) \(terminated by (?P<signal>SIG[A-Z0-9]+)")


class ChangeFeed:
    """Process state changes, numbered from 1, the newest MAX_CHANGES kept."""

    def __init__(self, wake_socket: str | None = None) -> None:
        self.feed_id = f"{os.getpid()}-{time.time_ns()}"  # a new supervisord is a new feed
        self._changes: deque[dict[str, Any]] = deque(maxlen=MAX_CHANGES)
        self._serial = 0
        self._wake_socket = wake_socket
        self._poker = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._poker.setblocking(False)  # supervisord's loop must never wait for us

    def record(self, event: events.ProcessStateEvent) -> None:
        """supervisord calls this synchronously from each state change, before anything else moves."""
        process = event.process
        state = process.get_state()
        self._serial += 1
        change: dict[str, Any] = {
            "serial": self._serial,
            "name": process.config.name,
            "state": getProcessStateDescription(state),
            "from_state": getProcessStateDescription(event.from_state),
            "pid": process.pid,
            "started_at": float(process.laststart),
            "time": time.time(),
        }
        if state in _ENDED:
            change["exitstatus"] = process.exitstatus if process.exitstatus is not None else -1
            change["stopped_at"] = float(process.laststop)
        if process.spawnerr:
            change["spawnerr"] = str(process.spawnerr)
        self._changes.append(change)
        self._poke()

    def _poke(self) -> None:
        if self._wake_socket is None:
            return
        # Full queue (a poke is already waiting) or no engine listening: nothing is lost either way.
        with contextlib.suppress(OSError):
            self._poker.sendto(b"!", self._wake_socket)

    def note_signal(self, name: str, signal: str) -> None:
        """supervisord logs the signal right after the EXITED/STOPPED change it belongs to."""
        for change in reversed(self._changes):
            if change["name"] == name:
                if "exitstatus" in change and "signal" not in change:
                    change["signal"] = signal
                return

    def since(self, serial: int) -> dict[str, Any]:
        """The changes after `serial`; `complete` is false when some were dropped in between."""
        oldest = self._changes[0]["serial"] if self._changes else self._serial + 1
        return {
            "feed": self.feed_id,
            "serial": self._serial,
            "complete": serial + 1 >= oldest or serial >= self._serial,
            "changes": [change for change in self._changes if change["serial"] > serial],
        }


class _SignalNames(Handler):
    """A supervisord log handler that only reads 'terminated by SIGx' lines into the feed."""

    level = LevelsByName.INFO

    def __init__(self, feed: ChangeFeed) -> None:
        super().__init__(stream=None)
        self._feed = feed

    def emit(self, record: Any) -> None:
        match = _KILLED_LINE.match(str(record.msg))
        if match:
            self._feed.note_signal(match["name"], match["signal"])

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def reopen(self) -> None:
        pass

    def remove(self) -> None:
        pass


class _SignalWake(asyncore.file_dispatcher):
    """The read end of Python's signal wakeup pipe, in supervisord's poll set: any signal wakes the loop."""

    def writable(self) -> bool:
        return False

    def handle_read(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self._fileno, 4096)


def _wake_on_signals() -> None:
    """Python writes each signal's number to this pipe at once, so supervisord reaps a child as it dies."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    # A forked child closes every fd before it execs the archiver; a signal in between
    # would make Python print "Exception ignored ... wakeup fd" into the venue's JSON log.
    os.register_at_fork(after_in_child=lambda: signal.set_wakeup_fd(-1))
    _SignalWake(read_end)  # registers itself in asyncore's socket map, which supervisord polls


class ChronicleNamespace:
    """The `chronicle` XML-RPC namespace."""

    def __init__(self, feed: ChangeFeed) -> None:
        self._feed = feed

    def getChanges(self, since: int) -> dict[str, Any]:
        """Return the process state changes after serial `since`.

        @param int since  the last serial already seen (0 at first)
        @return struct    feed, serial, complete, changes
        """
        return self._feed.since(int(since))


def make_rpcinterface(supervisord: Any, wake_socket: str | None = None, **_config: str) -> ChronicleNamespace:
    """supervisord's rpcinterface_factory entry point; called once its process groups exist."""
    feed = ChangeFeed(wake_socket)
    events.subscribe(events.ProcessStateEvent, feed.record)
    supervisord.options.logger.addHandler(_SignalNames(feed))
    _wake_on_signals()
    return ChronicleNamespace(feed)
