"""The archiver's registration as a queue reader: position commits plus a heartbeat thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supervisor_app.chronicle.reader_position import (
    ReaderPosition,
    heartbeat,
    load_position,
    position_path,
    register_reader,
    update_position,
)
from supervisor_app.chronicle.segment import SEG_DATA_OFFSET, list_segment_ids

# Well inside the writer's 30 s reader timeout, even with a slow fsync in between.
HEARTBEAT_INTERVAL_S = 2.0


def refresh_reader(queue_dir: Path, reader_name: str, now_ns: int) -> ReaderPosition:
    """Beat the reader's heartbeat without moving it; register it at the oldest segment if new.

    Used by the archiver itself and by the supervisor while the archiver is not running,
    so that retention keeps every segment not yet archived.
    """
    path = position_path(queue_dir, reader_name)
    if not path.exists():
        ids = list_segment_ids(queue_dir)
        register_reader(queue_dir, reader_name, ReaderPosition(ids[0] if ids else 0, SEG_DATA_OFFSET, now_ns))
    return heartbeat(path, now_ns)


class ReaderLease:
    """Keeps our reader position live; commits and heartbeats never interleave."""

    def __init__(
        self,
        queue_dir: Path,
        reader_name: str,
        *,
        clock: Callable[[], int],
        log: Any,
        interval_s: float = HEARTBEAT_INTERVAL_S,
    ) -> None:
        self._queue_dir = queue_dir
        self._name = reader_name
        self._clock = clock
        self._log = log
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._path: Path | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            raise RuntimeError("reader lease is not open")
        return self._path

    def open(self) -> ReaderPosition:
        """Register (if new, at the oldest segment), beat once, and start the heartbeat thread."""
        with self._lock:
            position = refresh_reader(self._queue_dir, self._name, self._clock())
        self._path = position_path(self._queue_dir, self._name)
        self._thread = threading.Thread(target=self._beat_forever, name="reader-heartbeat", daemon=True)
        self._thread.start()
        return position

    def position(self) -> ReaderPosition:
        with self._lock:
            return load_position(self.path)

    def commit(self, next_segment_id: int) -> ReaderPosition:
        """Move to the start of `next_segment_id`: only call once everything before it is durable."""
        now = self._clock()
        with self._lock:
            return update_position(
                self.path, lambda current: ReaderPosition(next_segment_id, SEG_DATA_OFFSET, now, current.generation)
            )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat_forever(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                with self._lock:
                    heartbeat(self.path, self._clock())
            except Exception as exc:
                # A missed beat is survivable (30 s of slack); the next one may succeed.
                self._log.warning(
                    "reader_heartbeat_failed", path=str(self.path), error=str(exc), error_type=type(exc).__name__
                )
