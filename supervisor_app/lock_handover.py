"""Re-executing this process in place (same pid) while keeping its lock files locked.

An archiver that has archived keeps the modules and pages its work loaded (~1-2 MiB)
for the rest of its life. Once idle, it can start afresh as its own new image: the
kernel keeps the pid, the open descriptors not marked close-on-exec and the locks on
them (flock and OFD locks belong to the open file description). The new image finds its
lock files' descriptors in the environment and adopts them instead of locking anew, so
no other archiver can take the venue in between. Stop signals are blocked across the
exec; the new image unblocks them once its handlers are in place, so none is lost.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, MutableMapping

ENV = "CHRONICLE_ARCHIVER_HELD_LOCKS"  # comma-separated fd:st_dev:st_ino, each a lock file still locked
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})

_FileKey = tuple[int, int]  # (st_dev, st_ino)


class LockHandover:
    """The lock files this process holds: handed to its next image by `reexec`, adopted back by `adopt`."""

    def __init__(self, inherited: dict[_FileKey, int] | None = None) -> None:
        self._inherited = dict(inherited or {})  # from the previous image, not adopted yet
        self.inherited = bool(inherited)  # this image was started by `reexec`, with locks to take over
        self._held: dict[int, _FileKey] = {}  # every descriptor `adopt` returned, with the file it was on

    @classmethod
    def from_environment(cls, environ: MutableMapping[str, str]) -> LockHandover:
        """Take the descriptors the previous image left (removing them from `environ`)."""
        inherited: dict[_FileKey, int] = {}
        for text in filter(None, environ.pop(ENV, "").split(",")):
            try:
                fd, dev, ino = (int(part) for part in text.split(":"))
            except ValueError:
                continue  # not written by `reexec`: nothing to adopt
            if _file_key_or_none(fd) == (dev, ino):  # else not the file the previous image locked (a stray setting)
                inherited[dev, ino] = fd
        return cls(inherited)

    def adopt(self, fd: int) -> int:
        """The descriptor to lock for the file `fd` is open on: the inherited one (closing `fd`), else `fd`.

        Locking an inherited descriptor again succeeds at once: its lock is already this process's.
        """
        key = _file_key(fd)
        inherited = self._inherited.pop(key, None)
        if inherited is not None:
            os.close(fd)
            os.set_inheritable(inherited, False)
            fd = inherited
        self._held[fd] = key
        return fd

    def close_unadopted(self) -> None:
        """Close the inherited descriptors no lock was taken through: their files were replaced or removed meanwhile.

        Left open, each would stay for the life of the process (inheritable, so through every later exec).
        """
        for fd in self._inherited.values():
            os.close(fd)
        self._inherited.clear()

    def forget(self, fd: int) -> None:
        """`fd`'s lock is released (about to be closed): not one to hand over."""
        self._held.pop(fd, None)

    def reexec(self, stopping: Callable[[], bool]) -> OSError | None:
        """Replace this process's image by a fresh run of its own command line; returns only if it did not.

        None: `stopping()` said a stop signal came first (its handler ran); else the exec's error.
        Call with no other thread alive: a stop signal delivered to another thread during the exec would be lost.
        """
        held = {fd: key for fd, key in self._held.items() if _file_key_or_none(fd) == key}
        environ = dict(os.environ, **{ENV: ",".join(f"{fd}:{dev}:{ino}" for fd, (dev, ino) in held.items())})
        # pthread_sigmask runs the handlers of signals that came before the block: a stop caught by the
        # old image is seen by `stopping()` here, and one arriving later stays pending for the new image.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        if stopping():
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            return None
        for fd in held:
            os.set_inheritable(fd, True)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execve(sys.executable, sys.orig_argv, environ)
        except OSError as error:
            for fd in held:
                os.set_inheritable(fd, False)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            return error
        raise AssertionError("execve returned without an error")  # pragma: no cover


def unblock_stop_signals() -> None:
    """Let the stop signals in (a previous image blocked them across its exec); call once their handlers are set."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _file_key(fd: int) -> _FileKey:
    status = os.fstat(fd)
    return status.st_dev, status.st_ino


def _file_key_or_none(fd: int) -> _FileKey | None:
    try:
        return _file_key(fd)
    except OSError:
        return None
