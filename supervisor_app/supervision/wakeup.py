"""The engine's doorbell: a unix datagram socket that supervisord's plugin and our own threads poke.

A poke carries no news; it only ends the engine's wait, and the engine then asks
supervisord what changed. So a poke that is dropped because others are already
queued loses nothing, and sending one is safe from a signal handler.
"""

from __future__ import annotations

import contextlib
import select
import socket
from pathlib import Path


class Wakeup:
    """Bound at `path` (inside the 0700 state directory) for as long as `run` lives."""

    def __init__(self, path: Path) -> None:
        self._path = path
        path.unlink(missing_ok=True)  # a killed run's socket; the state directory's lock is ours
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.setblocking(False)

    def poke(self) -> None:
        with contextlib.suppress(OSError):  # a full queue already holds a poke
            self._sock.sendto(b"!", str(self._path))

    def wait(self, timeout_s: float) -> None:
        """Return after a poke (taking every queued one) or after `timeout_s`."""
        ready, _, _ = select.select([self._sock], [], [], max(0.0, timeout_s))
        while ready:
            try:
                self._sock.recv(64)
            except BlockingIOError:
                return

    def close(self) -> None:
        self._sock.close()
        self._path.unlink(missing_ok=True)
