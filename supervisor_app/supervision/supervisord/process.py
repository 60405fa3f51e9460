"""supervisord as the child of `chronicle-fleet run`: started, watched, and stopped with it."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO, cast

from supervisor_app.errors import SupervisordError
from supervisor_app.journal import is_journal, priority_prefix
from supervisor_app.parent_death import parent_death_preexec
from supervisor_app.supervision.state_files import StateFiles
from supervisor_app.supervision.supervisord.client import SupervisordClient
from supervisor_app.supervision.supervisord.output_relay import json_object, start_relay

SUPERVISORD_UMASK = 0o027


def _supervisord_preexec(parent_pid: int) -> Callable[[], None]:
    """A preexec_fn: supervisord gets SIGTERM (and stops its children) if `run` dies, and umask 027."""
    die_with_run = parent_death_preexec(signal.SIGTERM, parent_pid)

    def preexec() -> None:
        os.umask(SUPERVISORD_UMASK)  # the venue log files it creates get no world access
        die_with_run()

    return preexec


class SupervisordProcess:
    """One supervisord child; its stdout (the venues' output in journald mode) and stderr are relayed."""

    def __init__(self, popen: subprocess.Popen[bytes], relays: list[threading.Thread]) -> None:
        self._popen = popen
        self._relays = relays

    @classmethod
    def start(
        cls,
        files: StateFiles,
        log: Any,
        *,
        stdout: BinaryIO | None = None,
        on_venue_line: Callable[[dict[str, Any]], None] | None = None,
    ) -> SupervisordProcess:
        """Start `supervisord -n` on the rendered config, in its own session.

        Its own session keeps a terminal's Ctrl-C away from it: `run` decides the order
        of the shutdown. Its stdout is a pipe we copy, because supervisord opens
        /dev/stdout by name, which fails with ENXIO when our stdout is journald's socket.
        """
        argv = [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(files.supervisord_conf)]
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_supervisord_preexec(os.getpid()),
        )
        assert popen.stdout is not None and popen.stderr is not None
        target = stdout if stdout is not None else sys.stdout.buffer
        relays = [
            # Popen's pipes are BufferedReaders (bufsize -1), which typeshed calls IO[bytes].
            start_relay(
                "supervisord-stdout", cast(io.BufferedReader, popen.stdout), _passthrough(target, log, on_venue_line)
            ),
            start_relay("supervisord-stderr", cast(io.BufferedReader, popen.stderr), _as_log(log)),
        ]
        log.info("supervisord_started", supervisord_pid=popen.pid, config=str(files.supervisord_conf))
        return cls(popen, relays)

    @property
    def pid(self) -> int:
        return self._popen.pid

    def alive(self) -> bool:
        return self._popen.poll() is None

    def wait_ready(self, client: SupervisordClient, timeout_s: float, log_path: os.PathLike[str]) -> None:
        """Return once supervisord answers RUNNING; SupervisordError if it exits or stays silent."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.alive():
                raise SupervisordError(
                    f"supervisord exited with code {self._popen.returncode} while starting; see {log_path}"
                )
            try:
                if client.state() == "RUNNING":
                    return
            except SupervisordError:
                pass  # its socket is not there yet
            if time.monotonic() > deadline:
                raise SupervisordError(f"supervisord did not answer within {timeout_s:.0f} s; see {log_path}")
            time.sleep(0.02)

    def wait(self, timeout_s: float) -> int | None:
        """Its exit code, or None if it is still running after `timeout_s`; relays are drained."""
        try:
            code = self._popen.wait(timeout_s)
        except subprocess.TimeoutExpired:
            return None
        for relay in self._relays:
            relay.join(timeout=2)
        return code

    def kill(self) -> None:
        if self.alive():
            self._popen.kill()


def _passthrough(
    target: BinaryIO, log: Any, on_venue_line: Callable[[dict[str, Any]], None] | None
) -> Callable[[bytes], None]:
    """Venue output on supervisord's stdout: JSON lines verbatim (and shown to `on_venue_line`), anything else wrapped."""

    journal = is_journal(target)

    def on_line(line: bytes) -> None:
        entry = json_object(line)
        if entry is not None:
            # The archiver's stream is a pipe to supervisord, not the journal: the priority is added here.
            prefix = priority_prefix(entry.get("level")).encode() if journal else b""
            target.write(prefix + line + b"\n")
            target.flush()
            if on_venue_line is not None:
                on_venue_line(entry)
        elif line.strip():
            log.warning("unstructured_output", stream="stdout", line=line.decode("utf-8", "replace"))

    return on_line


def _as_log(log: Any) -> Callable[[bytes], None]:
    """supervisord's stderr is plain text (startup errors, tracebacks): each line becomes a JSON event."""

    def on_line(line: bytes) -> None:
        if line.strip():
            log.error("supervisord_output", stream="stderr", line=line.decode("utf-8", "replace"))

    return on_line


def stop_orphans(pids: Mapping[str, int], timeout_s: float, log: Any) -> None:
    """After supervisord died, SIGTERM the archivers it left behind (then SIGKILL): a new fleet needs their locks."""
    alive = {venue: pid for venue, pid in pids.items() if _is_archiver_of(pid, venue)}
    for venue, pid in alive.items():
        log.warning("orphan_stopping", venue=venue, child_pid=pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = {venue: pid for venue, pid in alive.items() if _is_archiver_of(pid, venue)}
    for venue, pid in alive.items():
        log.error("orphan_killed", venue=venue, child_pid=pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _is_archiver_of(pid: int, venue: str) -> bool:
    """Still that venue's archiver (not a dead one's recycled pid, not a zombie)?

    supervisord reports a child running as soon as it has forked it, so the pid may
    still be a fork of supervisord that has not exec'd the archiver yet: that is ours too.
    """
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    archiver = b"supervisor_app.cli.archiver" in cmdline and venue.encode() in cmdline
    unexeced_fork = b"supervisor.supervisord" in cmdline
    return state != "Z" and (archiver or unexeced_fork)
