"""A non-blocking exclusive flock held for the life of a `with` block."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive_lock(path: Path, *, held_elsewhere: Callable[[], Exception], mode: int = 0o644) -> Iterator[None]:
    """Hold `path` locked; raise `held_elsewhere()` at once if another process holds it.

    The kernel drops the lock when the process dies, so a crash never leaves it stuck.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise held_elsewhere() from exc
        yield
    finally:
        os.close(fd)
