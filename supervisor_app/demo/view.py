"""The demo's output: events as permanent lines, the archivers' status redrawn in place on a terminal."""

from __future__ import annotations

import os
import termios
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from supervisor_app.archive.progress import ArchiveProgress

PLAIN_EVERY_S = 3.0  # off a terminal (a pipe, a file, CI) the status is a line per venue this often
FALLBACK_COLUMNS = 80

# ECMA-48: cursor to the start of the line N lines up; erase from the cursor to the end of the screen.
CURSOR_UP_LINES = "\033[{}F"
ERASE_BELOW = "\033[J"


class DemoView:
    """Events are permanent lines; on a terminal one status block is redrawn below them, else printed every 3 s."""

    def __init__(self, out: TextIO, venues: Sequence[str]) -> None:
        self._out = out
        self._venues = tuple(venues)
        self._live = out.isatty() and os.environ.get("TERM") != "dumb"  # dumb: no cursor movement
        self._block: list[str] = []  # the status lines on screen below the last event
        self._next_plain_s = 0.0

    def say(self, text: str) -> None:
        """A permanent line: on a terminal it goes above the status block, which is drawn again below it."""
        self._write(self._erase() + text + "\n" + self._draw(self._block))

    def show(
        self,
        elapsed_s: float,
        duration_s: float,
        statuses: Mapping[str, Mapping[str, Any]],
        progress: Mapping[str, ArchiveProgress],
    ) -> None:
        rows = status_rows(self._venues, statuses, progress)
        if self._live:
            block = [f"t={elapsed_s:.0f}s of {duration_s:g}s", *("  " + row for row in rows)]
            self._write(self._erase() + self._draw(block))
            self._block = block
        elif elapsed_s >= self._next_plain_s:
            self._next_plain_s = elapsed_s + PLAIN_EVERY_S
            self._write("".join(f"t={elapsed_s:.0f}s  {row}\n" for row in rows))

    def close(self) -> None:
        """Leave the last status block on screen as it is; later lines go below it."""
        self._block = []

    def _erase(self) -> str:
        return CURSOR_UP_LINES.format(len(self._block)) + ERASE_BELOW if self._live and self._block else ""

    def _draw(self, block: list[str]) -> str:
        # A line that wraps would take two rows, and the next erase would miss one.
        width = self._columns() - 1
        return "".join(line[:width] + "\n" for line in block) if self._live else ""

    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self._out.fileno()).columns
        except (OSError, ValueError):  # not a real file descriptor, or one that has gone
            return FALLBACK_COLUMNS
        return columns or FALLBACK_COLUMNS  # a pseudo-terminal nobody sized says 0

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()


@contextmanager
def output_kept_on_ctrl_c(out: TextIO) -> Iterator[None]:
    """While the demo runs, a Ctrl-C on its terminal does not discard output not yet shown (NOFLSH).

    A terminal flushes that output by default; a redraw cut in half would leave the screen out of
    step with the view, whose next erase would then take events with it.
    """
    try:
        fd = out.fileno()
        foreground = os.tcgetpgrp(fd) == os.getpgrp()  # from the background, tcsetattr would stop us (SIGTTOU)
        saved = termios.tcgetattr(fd) if foreground else None
    except (OSError, ValueError, termios.error):  # not a terminal
        saved = None
    if saved is None:
        yield
        return
    termios.tcsetattr(fd, termios.TCSANOW, [*saved[:3], saved[3] | termios.NOFLSH, *saved[4:]])
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, saved)


def status_rows(
    venues: Sequence[str], statuses: Mapping[str, Mapping[str, Any]], progress: Mapping[str, ArchiveProgress]
) -> list[str]:
    """One aligned line per venue, in the order given: state, pid, restarts, last archived segment, lag."""
    width = max(len(v) for v in venues)
    rows = []
    for venue in venues:
        status, done = statuses.get(venue, {}), progress[venue]
        archived = "-" if done.last_archived_segment is None else str(done.last_archived_segment)
        rows.append(
            f"{venue:<{width}}  {status.get('state', '?'):<8}  pid {status.get('pid') or '-':<7}  "
            f"restarts {status.get('restarts', 0)}  last archived {archived:>3}  lag {done.segments_behind} seg"
        )
    return rows
