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
    register_reader,
    store_position,
)
from supervisor_app.chronicle.segment import SEG_DATA_OFFSET

# Well inside the writer's 30 s reader timeout, even with a slow fsync in between.
HEARTBEAT_INTERVAL_S = 2.0


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

    def open(self, first_segment_id: int) -> ReaderPosition:
        """Register (if new, at `first_segment_id`), beat once, and start the heartbeat thread."""
        initial = ReaderPosition(segment_id=first_segment_id, offset=SEG_DATA_OFFSET, heartbeat_ns=self._clock())
        self._path = register_reader(self._queue_dir, self._name, initial)
        with self._lock:
            position = heartbeat(self._path, self._clock())
        self._thread = threading.Thread(target=self._beat_forever, name="reader-heartbeat", daemon=True)
        self._thread.start()
        return position

    def position(self) -> ReaderPosition:
        with self._lock:
            return load_position(self.path)

    def commit(self, next_segment_id: int) -> ReaderPosition:
        """Move to the start of `next_segment_id`: only call once everything before it is durable."""
        with self._lock:
            current = load_position(self.path)
            wanted = ReaderPosition(next_segment_id, SEG_DATA_OFFSET, self._clock(), current.generation)
            return store_position(self.path, wanted)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat_forever(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                with self._lock:
                    heartbeat(self.path, self._clock())
            except OSError as exc:
                # A missed beat is survivable (30 s of slack); the next one may succeed.
                self._log.warning("reader_heartbeat_failed", path=str(self.path), error=str(exc))
