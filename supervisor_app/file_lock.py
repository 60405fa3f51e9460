"""A non-blocking exclusive flock held for the life of a `with` block."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from supervisor_app.errors import UnsafePathError

if TYPE_CHECKING:
    from supervisor_app.lock_handover import LockHandover


@contextmanager
def exclusive_lock(
    path: Path,
    *,
    held_elsewhere: Callable[[], Exception],
    mode: int = 0o644,
    follow_symlinks: bool = True,
    handover: LockHandover | None = None,
) -> Iterator[None]:
    """Hold `path` locked; raise `held_elsewhere()` at once if another process holds it.

    The kernel drops the lock when the process dies, so a crash never leaves it stuck.
    Without `follow_symlinks`, a symbolic link at `path` is refused (UnsafePathError).
    With `handover`, the lock is kept across a re-exec (see lock_handover.py).
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise UnsafePathError(f"{path}: is a symbolic link; a lock file must be a regular file") from exc
        raise
    try:
        if handover is not None:
            fd = handover.adopt(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise held_elsewhere() from exc
        yield
    finally:
        if handover is not None:
            handover.forget(fd)
        os.close(fd)
