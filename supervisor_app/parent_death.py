"""Dying with one's parent: Linux's parent-death signal, so no archiver outlives its supervisord.

An archiver that survived its supervisord would keep its venue's locks and reader, and a
new `chronicle-fleet run` could not manage it. With PR_SET_PDEATHSIG the kernel sends
SIGTERM (a clean stop) the moment the parent dies, whatever killed it.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def parent_death_preexec(sig: int, parent_pid: int) -> Callable[[], None]:
    """A Popen preexec_fn: the child gets `sig` when `parent_pid` (the caller) dies, even before exec."""
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: the child only calls into it

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return preexec


def die_with_parent(sig: int = signal.SIGTERM, *, parent_marker: bytes | None = None) -> None:
    """Ask for `sig` when the parent dies; if it already has (we were reparented), send it now.

    `parent_marker`: the parent is ours only if its command line holds these bytes;
    without it, only whether the parent still lives is checked.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if parent_marker is not None and parent_marker not in _cmdline(os.getppid()):
        os.kill(os.getpid(), sig)  # the parent died before prctl took effect


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
