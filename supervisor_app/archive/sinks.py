"""Where staging sends a segment's windows: the raw copy, the compressor, or any other consumer.

Writes into the page cache go in pieces of WRITE_PIECE bytes. Since Linux 6.16, ext4 sizes
a new page-cache folio by the write that creates it: an 8 MiB write takes 2 MiB folios, and
on a VM whose balloon reports free memory to the host (free page reporting) those come from
the large free blocks the host has taken back, so their first touch costs a host fault per
page. bench_archiver measured copy mode at 1.6-2.9x of `cp` + `sync` with 8 MiB writes
(kernel time 0.8-1.7 s per GiB, run to run) and 0.9x with 256 KiB pieces (0.3 s, steady).
"""

from __future__ import annotations

from typing import Protocol

from supervisor_app.durable import write_all

WRITE_PIECE = 256 * 1024


class WindowSink(Protocol):
    """A consumer of a segment's consecutive windows; staging reuses a window's buffer once released."""

    def feed(self, window: memoryview) -> None:
        """Take the next window; its bytes stay valid until `release` passes their end."""

    def release(self, end: int) -> None:
        """Stop using the bytes fed before segment offset `end`: their buffer is about to be read into."""


class RawFileSink:
    """Writes each window unchanged to an open file."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def feed(self, window: memoryview) -> None:
        write_in_pieces(self._fd, window)

    def release(self, end: int) -> None:
        """Nothing to do: `feed` wrote the window before it returned."""


def write_in_pieces(fd: int, data: bytes | memoryview) -> None:
    """Write all of `data` at the file position, WRITE_PIECE bytes per call (see the module's docstring)."""
    view = memoryview(data)
    for start in range(0, len(view), WRITE_PIECE):
        write_all(fd, view[start : start + WRITE_PIECE])
