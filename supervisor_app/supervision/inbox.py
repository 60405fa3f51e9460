"""The engine's inbox: commands from other threads and signal handlers, taken on the engine's thread."""

from __future__ import annotations

import queue
from concurrent.futures import Future
from typing import Protocol

from supervisor_app.supervision.commands import Command, Reply

Item = tuple[Command, Future[Reply] | None]


class Waker(Protocol):
    """What ends the engine's wait (supervision.wakeup.Wakeup, or a stub in tests)."""

    def poke(self) -> None: ...
    def wait(self, timeout_s: float) -> None: ...


class Inbox:
    """Safe from a signal handler: SimpleQueue.put is reentrant, a poke is one sendto."""

    def __init__(self, waker: Waker) -> None:
        self._waker = waker
        self._items: queue.SimpleQueue[Item] = queue.SimpleQueue()

    def post(self, command: Command, future: Future[Reply] | None) -> None:
        self._items.put((command, future))
        self._waker.poke()

    def receive(self, timeout: float) -> list[Item]:
        """Wait for a poke (a command, or news from supervisord) or the timeout; take every queued command."""
        self._waker.wait(timeout)
        items = []
        while True:
            try:
                items.append(self._items.get_nowait())
            except queue.Empty:
                return items
