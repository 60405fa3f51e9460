"""A pseudo-terminal for tests: run a program on one, type Ctrl-C, and render the screen it leaves."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import termios
import time
from collections.abc import Callable

import pyte
import pytest

COLUMNS, ROWS = 160, 300  # tall enough that nothing a test prints scrolls off the emulated screen


def run_in_terminal(
    cmd: list[str], *, ctrl_c_when: Callable[[bytes], bool] = lambda _: False, timeout_s: float = 120.0
) -> tuple[int, bytes]:
    """Run `cmd` on a pseudo-terminal that is its controlling terminal; type Ctrl-C once `ctrl_c_when(output)`."""
    pid, master = pty.fork()
    if pid == 0:  # the child: exec at once (nothing else is safe after fork in a threaded process)
        try:
            os.execve(cmd[0], cmd, {**os.environ, "TERM": "xterm"})  # whatever runs the tests, a real terminal
        finally:
            os._exit(127)
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    output = bytearray()
    interrupted = False
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child has exited and closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            if not interrupted and ctrl_c_when(bytes(output)):
                os.write(master, b"\x03")  # Ctrl-C, as typed: the terminal sends SIGINT to its foreground group
                interrupted = True
        else:
            pytest.fail(f"{cmd} did not finish in time:\n" + output.decode(errors="replace"))
    finally:
        os.close(master)
        if not interrupted:
            os.kill(pid, signal.SIGINT)  # a test that failed early: let it stop what it started
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), bytes(output)


def render(output: bytes) -> list[str]:
    """The screen a terminal shows after `output`, without trailing blank lines."""
    screen = pyte.Screen(COLUMNS, ROWS)
    pyte.ByteStream(screen).feed(output)
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return lines
