"""A cap on the compression threads of all the archivers on a host: N slot files, one thread's worth each.

An archiver locks slots (flock) before it compresses a segment and unlocks them once the
segment is compressed; the kernel unlocks them if it dies. It takes as many free slots as
it wants threads, at least one: when fewer are free it compresses with fewer threads. It
never waits while it holds a slot, so no two archivers can wait for each other. Waiters
queue in arrival order, each with a ticket file it keeps locked while it waits, and only
the oldest live ticket takes slots: an archiver that finishes a segment and wants slots
for the next one queues behind those already waiting, so none of them starves.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

QUEUE_DIR = "queue"
SLOT_PREFIX = "slot-"
POLL_S = 0.05  # how often a waiter looks again: small against the second or more a segment takes


@dataclass(frozen=True)
class CompressSlots:
    """`count` slots in `directory`, shared by every archiver given the same two."""

    directory: Path
    count: int

    @contextlib.contextmanager
    def take(self, wanted: int, check_stop: Callable[[], None]) -> Iterator[int]:
        """Hold between 1 and `wanted` slots for the `with` block and say how many; `check_stop` may raise while waiting."""
        queue = self.directory / QUEUE_DIR
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        queue.mkdir(mode=0o700, exist_ok=True)
        held = [] if _first_live_ticket(queue) is not None else self._take_free(wanted)
        if not held:
            held = self._wait_in_line(queue, wanted, check_stop)
        try:
            yield len(held)
        finally:
            for fd in held:
                os.close(fd)

    def slot_path(self, number: int) -> Path:
        return self.directory / f"{SLOT_PREFIX}{number}"

    def _take_free(self, wanted: int) -> list[int]:
        held: list[int] = []
        for number in range(self.count):
            if len(held) == wanted:
                break
            fd = os.open(self.slot_path(number), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            if _try_lock(fd):
                held.append(fd)
            else:
                os.close(fd)
        return held

    def _wait_in_line(self, queue: Path, wanted: int, check_stop: Callable[[], None]) -> list[int]:
        ticket, fd = _enter(queue)
        try:
            while True:
                check_stop()
                if _first_live_ticket(queue) == ticket:
                    held = self._take_free(wanted)
                    if held:
                        return held
                time.sleep(POLL_S)
        finally:
            (queue / ticket).unlink(missing_ok=True)
            os.close(fd)


def _enter(queue: Path) -> tuple[str, int]:
    """A ticket named by the time it was taken (CLOCK_MONOTONIC is one clock for the whole host), locked."""
    me = f"{os.getpid()}-{threading.get_native_id()}"
    draft = queue / f".draft-{me}"
    fd = os.open(draft, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)  # our own new file: never blocks
    ticket = f"{time.monotonic_ns():020d}-{me}"
    # Renamed in already locked: an unlocked ticket always means that its holder died.
    os.rename(draft, queue / ticket)
    return ticket, fd


def _first_live_ticket(queue: Path) -> str | None:
    """The oldest ticket whose holder is alive; the tickets of dead holders are removed on the way."""
    for name in sorted(os.listdir(queue)):
        if name.startswith("."):
            continue
        try:
            fd = os.open(queue / name, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # its holder just left the line
        try:
            if not _try_lock(fd):
                return name
            (queue / name).unlink(missing_ok=True)
        finally:
            os.close(fd)
    return None


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
