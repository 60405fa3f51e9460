"""A non-blocking exclusive flock held for the life of a `with` block."""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from supervisor_app.errors import UnsafePathError


@contextmanager
def exclusive_lock(
    path: Path, *, held_elsewhere: Callable[[], Exception], mode: int = 0o644, follow_symlinks: bool = True
) -> Iterator[None]:
    """Hold `path` locked; raise `held_elsewhere()` at once if another process holds it.

    The kernel drops the lock when the process dies, so a crash never leaves it stuck.
    Without `follow_symlinks`, a symbolic link at `path` is refused (UnsafePathError).
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise UnsafePathError(f"{path}: is a symbolic link; a lock file must be a regular file") from exc
        raise
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise held_elsewhere() from exc
        yield
    finally:
        os.close(fd)
