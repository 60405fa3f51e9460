"""The archiver's registration as a queue reader: the queue lock, position commits, and a heartbeat that vouches for the work.

The heartbeat thread beats every 2 s, but only while the archiver's work has checked in
within the liveness timeout (`Liveness`): staging checks in between windows, publishing
between its steps, the loop at every poll. A loop stuck for good (a write to a hung NFS
server, say) stops the beats although the thread lives on, so the supervisor's stall
watchdog sees a stale heartbeat, leases the reader and kills the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supervisor_app.archive.queue_lock import QueueLock
from supervisor_app.archive_root import ArchiveRoot
from supervisor_app.chronicle.reader_position import (
    ReaderPosition,
    heartbeat,
    load_position,
    position_path,
    register_reader,
    update_position,
)
from supervisor_app.chronicle.segment import SEG_DATA_OFFSET, list_segment_ids

if TYPE_CHECKING:
    from supervisor_app.lock_handover import LockHandover

# Well inside the writer's 30 s reader timeout, even with a slow fsync in between.
HEARTBEAT_INTERVAL_S = 2.0
# The longest the work may go without checking in before the beats stop. Its slowest
# single step is an fsync of a whole segment (128 MiB: 60 s at ~2 MiB/s, a disk in
# trouble but still working) or one staging window compressed at zstd's top levels; a
# timeout tighter than those would kill healthy archivers on slow disks, and a stuck
# one costs only time here: the watchdog's lease keeps the queue safe meanwhile.
LIVENESS_TIMEOUT_S = 60.0


def ensure_registered(queue_dir: Path, reader_name: str, now_ns: int) -> Path:
    """The reader's position file, registered at the oldest segment if it is new."""
    path = position_path(queue_dir, reader_name)
    if not path.exists():
        ids = list_segment_ids(queue_dir)
        register_reader(queue_dir, reader_name, ReaderPosition(ids[0] if ids else 0, SEG_DATA_OFFSET, now_ns))
    return path


def refresh_reader(queue_dir: Path, reader_name: str, now_ns: int) -> ReaderPosition:
    """Beat the reader's heartbeat without moving it; register it at the oldest segment if new.

    Used by the archiver itself and by the supervisor while the archiver is not running,
    so that retention keeps every segment not yet archived.
    """
    return heartbeat(ensure_registered(queue_dir, reader_name, now_ns), now_ns)


class Liveness:
    """When the archiver's work last checked in; any of its threads may check in."""

    def __init__(
        self, timeout_s: float = LIVENESS_TIMEOUT_S, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.timeout_s = timeout_s
        self._monotonic = monotonic
        self._last = monotonic()

    def check_in(self) -> None:
        self._last = self._monotonic()  # one float store: atomic, no lock needed

    def silent_for_s(self) -> float:
        return self._monotonic() - self._last

    def alive(self) -> bool:
        return self.silent_for_s() <= self.timeout_s


class ReaderLease:
    """Keeps our reader position live while the work is; commits and heartbeats never interleave."""

    def __init__(
        self,
        queue_dir: Path,
        reader_name: str,
        *,
        clock: Callable[[], int],
        log: Any,
        liveness: Liveness,
        venue: str,
        archive_root: ArchiveRoot,
        interval_s: float = HEARTBEAT_INTERVAL_S,
        handover: LockHandover | None = None,
    ) -> None:
        self._queue_dir = queue_dir
        self._handover = handover
        self._name = reader_name
        self._clock = clock
        self._log = log
        self._liveness = liveness
        self._owner = (venue, archive_root)  # written into the queue lock, for whoever finds it taken
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._path: Path | None = None
        self._queue_lock: QueueLock | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            raise RuntimeError("reader lease is not open")
        return self._path

    def open(self) -> ReaderPosition:
        """Register (if new, at the oldest segment), take the queue lock, beat once, start the heartbeat thread.

        ArchiveBusyError, naming the holder's pid, if another archiver holds the queue lock.
        """
        # Registered first: readers/ must never exist without a reader in it (see register_reader).
        path = ensure_registered(self._queue_dir, self._name, self._clock())
        venue, archive_root = self._owner
        self._queue_lock = QueueLock.acquire(
            self._queue_dir, self._name, venue=venue, archive_root=archive_root, handover=self._handover
        )
        try:
            with self._lock:
                position = heartbeat(path, self._clock())
        except BaseException:
            self.close()
            raise
        self._path = path
        self._liveness.check_in()
        self._start_heartbeat()
        return position

    @contextmanager
    def without_heartbeat(self) -> Iterator[None]:
        """No heartbeat thread (nor a beat in progress) inside the block; the queue lock stays held."""
        self._end_heartbeat()
        try:
            yield
        finally:
            self._start_heartbeat()

    def position(self) -> ReaderPosition:
        with self._lock:
            return load_position(self.path)

    def commit(self, next_segment_id: int) -> ReaderPosition:
        """Move to the start of `next_segment_id`: forward only once everything before it is durable."""
        now = self._clock()
        with self._lock:
            return update_position(
                self.path, lambda current: ReaderPosition(next_segment_id, SEG_DATA_OFFSET, now, current.generation)
            )

    def close(self) -> None:
        self._end_heartbeat()
        if self._queue_lock is not None:
            self._queue_lock.release()
            self._queue_lock = None

    def _start_heartbeat(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat_forever, args=(self._stop,), name="reader-heartbeat", daemon=True
        )
        self._thread.start()

    def _end_heartbeat(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _beat_forever(self, stop: threading.Event) -> None:
        withheld_for: float | None = None  # how long the work had been silent, while beats are withheld
        while not stop.wait(self._interval_s):
            silent_s = self._liveness.silent_for_s()
            if silent_s > self._liveness.timeout_s:
                if withheld_for is None:
                    self._log.error(
                        "main_loop_stalled",
                        silent_s=round(silent_s, 1),
                        liveness_timeout_s=self._liveness.timeout_s,
                        action="reader heartbeat withheld: the supervisor's stall watchdog leases the reader "
                        "and restarts this archiver",
                    )
                withheld_for = silent_s
                continue
            if withheld_for is not None:
                self._log.warning("main_loop_resumed", silent_s=round(withheld_for, 1))
                withheld_for = None
            self._beat()

    def _beat(self) -> None:
        try:
            with self._lock:
                heartbeat(self.path, self._clock())
        except Exception as exc:
            # A missed beat is survivable (30 s of slack); the next one may succeed.
            self._log.warning(
                "reader_heartbeat_failed", path=str(self.path), error=str(exc), error_type=type(exc).__name__
            )
