"""One archiver per queue and reader: a lock on `<queue>/readers/<reader>.lock`, held for the archiver's life.

Two archivers committing the same reader position (a manual run into a scratch root, a
second config naming the same queue) each move it past segments the other never archived,
and retention deletes them. The lock sits beside the position it guards, so it binds every
archiver of that queue and reader whatever its archive root; the writer's retention reads
only `readers/*.meta` and ignores it. It is an open-file-description lock (F_OFD_SETLK):
the kernel drops it when its holder dies, and it can be tested without being taken
(F_OFD_GETLK), so the supervisor can ask who holds it without ever making a starting
archiver fail. The holder writes its pid (and what it archives to) into the file.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from supervisor_app.archive_root import ArchiveRoot
from supervisor_app.chronicle.reader_position import position_path
from supervisor_app.errors import ArchiveBusyError, UnsafePathError

if TYPE_CHECKING:
    from supervisor_app.lock_handover import LockHandover

LOCK_SUFFIX: Final = ".lock"
# struct flock on 64-bit Linux: l_type, l_whence, l_start, l_len, l_pid (native alignment pads it).
_FLOCK: Final = struct.Struct("hhqqi")
_WHOLE_FILE_WRITE_LOCK: Final = _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
_MAX_NOTE_BYTES: Final = 4096


@dataclass(frozen=True)
class LockHolder:
    """Who holds a queue lock, as it wrote itself into the file (None where it did not, or not yet)."""

    pid: int | None
    venue: str | None = None
    archive_root: str | None = None

    def describe(self) -> str:
        """`pid 4242, archiving venue binance into /srv/archive`."""
        who = "pid unknown (it is starting, or wrote nothing)" if self.pid is None else f"pid {self.pid}"
        if self.venue is None or self.archive_root is None:
            return who
        return f"{who}, archiving venue {self.venue} into {self.archive_root}"


def queue_lock_path(queue_dir: Path, reader_name: str) -> Path:
    """`<queue>/readers/<reader_name>.lock` (the reader name is checked like the position file's)."""
    return position_path(queue_dir, reader_name).with_name(reader_name + LOCK_SUFFIX)


class QueueLock:
    """The queue lock of one reader, held until `release` (or the process ends)."""

    def __init__(self, fd: int, path: Path, handover: LockHandover | None = None) -> None:
        self._fd = fd
        self.path = path
        self._handover = handover

    @classmethod
    def acquire(
        cls,
        queue_dir: Path,
        reader_name: str,
        *,
        venue: str,
        archive_root: ArchiveRoot,
        handover: LockHandover | None = None,
    ) -> QueueLock:
        """Take the lock at once or raise ArchiveBusyError naming its holder; `readers/` must exist.

        With `handover`, the lock is kept across a re-exec (see lock_handover.py).
        """
        path = queue_lock_path(queue_dir, reader_name)
        fd = _open_lock_file(path, os.O_RDWR | os.O_CREAT)
        if handover is not None:
            fd = handover.adopt(fd)
        try:
            fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _WHOLE_FILE_WRITE_LOCK)
        except OSError as error:
            holder = _read_holder(fd)
            if handover is not None:
                handover.forget(fd)
            os.close(fd)
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise ArchiveBusyError(
                f"another archiver ({holder.describe()}) holds {path}: one archiver per queue and reader. "
                "Stop that one first; a manual run beside the fleet needs its own --reader-name"
            ) from None
        note = {"pid": os.getpid(), "venue": venue, "archive_root": str(archive_root)}
        data = (json.dumps(note) + "\n").encode("utf-8")
        # Written over the old note, then cut to length: a reader never finds the file empty, and
        # one taken again across a refresh (the same note) never changes at all.
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        return cls(fd, path, handover)

    def release(self) -> None:
        if self._fd >= 0:
            if self._handover is not None:
                self._handover.forget(self._fd)
            os.close(self._fd)  # drops the lock; the file stays, for the next holder to reuse
            self._fd = -1


def queue_lock_holder(queue_dir: Path, reader_name: str) -> LockHolder | None:
    """Who holds the queue lock of `reader_name` now, or None when nobody does; never takes the lock."""
    try:
        fd = _open_lock_file(queue_lock_path(queue_dir, reader_name), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        (lock_type, *_) = _FLOCK.unpack(fcntl.fcntl(fd, fcntl.F_OFD_GETLK, _WHOLE_FILE_WRITE_LOCK))
        return None if lock_type == fcntl.F_UNLCK else _read_holder(fd)
    finally:
        os.close(fd)


def _open_lock_file(path: Path, flags: int) -> int:
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o644)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafePathError(f"{path}: is a symbolic link; the queue lock must be a regular file") from error
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePathError(f"{path}: is not a regular file; the queue lock must be one")
    return fd


def _read_holder(fd: int) -> LockHolder:
    """What the holder wrote; whatever cannot be read is None (the note is advice, the lock is the fact)."""
    try:
        note = json.loads(os.pread(fd, _MAX_NOTE_BYTES, 0).decode("utf-8"))
    except (OSError, ValueError):
        return LockHolder(None)
    if not isinstance(note, dict):
        return LockHolder(None)
    pid, venue, root = note.get("pid"), note.get("venue"), note.get("archive_root")
    return LockHolder(
        pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else None,
        venue if isinstance(venue, str) else None,
        root if isinstance(root, str) else None,
    )
