"""Where staging sends a segment's windows: the raw copy, the compressor, or any other consumer.

The raw copy bypasses the page cache (O_DIRECT, from a writer thread) where the filesystem
allows it. Through the page cache every copied byte needs a new cache page, and creating
them is what made copy mode slow and erratic: on a VM whose balloon hands free memory back
to the host (free page reporting), a new page in memory the host took back costs a host
fault on first touch, and how much of the free memory that is changes from minute to
minute. Measured on such a VM (Linux 6.18, ext4): rewriting cached pages costs 0.07 s of
kernel time per GiB whatever the write size, creating them 0.2-2.0 s, more with larger
writes (ext4 sizes new folios by the write); the archiver copying with O_DIRECT spends
0.25-0.3 s in all, steadily.
It also neither evicts the feed handlers' cached pages nor leaves dirty pages to the
kernel's flusher threads, and its writes carry the archiver's own I/O priority, which the
flusher threads' writeback would not.

Where O_DIRECT is refused (a filesystem without it, a window off 4 KiB boundaries, memory
the device will not take), the copy goes through the page cache in WRITE_PIECE writes:
small folios, as `cp` makes them.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from supervisor_app.thread_names import name_this_thread
from supervisor_app.worker_threads import WorkerThreads

if TYPE_CHECKING:
    from supervisor_app.worker_threads import Task

WRITE_PIECE = 64 * 1024
DIRECT_ALIGNMENT = 4096  # offsets and lengths of O_DIRECT writes: the largest logical block size in use
WRITER_THREAD = "raw-write"


class WindowSink(Protocol):
    """A consumer of a segment's consecutive windows; staging reuses a window's buffer once released."""

    def feed(self, window: memoryview) -> None:
        """Take the next window; its bytes stay valid until `release` passes their end."""

    def release(self, end: int) -> None:
        """Stop using the bytes fed before segment offset `end`: their buffer is about to be read into."""


def create_copy_file(path: Path) -> int:
    """Create `path` for RawFileSink: with O_DIRECT when its filesystem accepts it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        return os.open(path, flags | os.O_DIRECT, 0o644)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return os.open(path, flags, 0o644)


class RawFileSink:
    """Writes each window unchanged at its offset: direct from a writer thread if the file is O_DIRECT, else in pieces.

    A direct write reads the window's buffer until it completes: `release` waits for it.
    `finish` (or `abort`, after a failure) must end the sink before its file is closed.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._direct = bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)
        self._writer = WorkerThreads(1, WRITER_THREAD, _name_writer) if self._direct else None
        self._in_flight: deque[tuple[int, memoryview, Task[None]]] = deque()  # (offset, window, its write)
        self._offset = 0

    @property
    def direct(self) -> bool:
        """Whether the windows so far bypassed the page cache."""
        return self._direct

    def feed(self, window: memoryview) -> None:
        offset, self._offset = self._offset, self._offset + len(window)
        if self._writer is not None and self._direct and _aligned(offset, len(window)):
            self._in_flight.append((offset, window, self._writer.submit(pwrite_all, self._fd, window, offset)))
            return
        self.release(offset)  # the direct writes before it land first, as a later read expects
        self._use_page_cache()
        pwrite_in_pieces(self._fd, window, offset)

    def release(self, end: int) -> None:
        while self._in_flight and self._in_flight[0][0] < end:
            offset, window, write = self._in_flight.popleft()
            try:
                write.result()
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                # The device wants another alignment (or the memory is not aligned): the page cache takes it.
                self._use_page_cache()
                pwrite_in_pieces(self._fd, window, offset)

    def finish(self) -> None:
        """Wait for every write; their errors are raised here."""
        try:
            self.release(self._offset)
        finally:
            self.abort()

    def abort(self) -> None:
        """Stop: wait for the write in progress, drop the rest."""
        if self._writer is not None:
            for _, _, write in self._in_flight:
                write.cancel()
            self._in_flight.clear()
            self._writer.shutdown()

    def _use_page_cache(self) -> None:
        if self._direct:
            self._direct = False
            flags = fcntl.fcntl(self._fd, fcntl.F_GETFL)
            fcntl.fcntl(self._fd, fcntl.F_SETFL, flags & ~os.O_DIRECT)


def pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    """pwrite until every byte is written (a short write is legal on any file)."""
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def pwrite_in_pieces(fd: int, data: bytes | memoryview, offset: int) -> None:
    """Write `data` at `offset` through the page cache, WRITE_PIECE bytes per call: small page-cache folios."""
    view = memoryview(data)
    for start in range(0, len(view), WRITE_PIECE):
        pwrite_all(fd, view[start : start + WRITE_PIECE], offset + start)


def write_in_pieces(fd: int, data: bytes | memoryview) -> None:
    """Write `data` at the file position through the page cache, WRITE_PIECE bytes per call."""
    view = memoryview(data)
    for start in range(0, len(view), WRITE_PIECE):
        piece = view[start : start + WRITE_PIECE]
        while piece:
            piece = piece[os.write(fd, piece) :]


def _aligned(offset: int, length: int) -> bool:
    return offset % DIRECT_ALIGNMENT == 0 and length % DIRECT_ALIGNMENT == 0


def _name_writer() -> None:
    name_this_thread(WRITER_THREAD)
