"""Named worker threads that run submitted calls oldest first: the part of concurrent.futures we use.

concurrent.futures imports logging (with traceback, string, textwrap): ~0.7 MiB that an
archiver would keep for the rest of its life once its first segment arrived.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_PENDING, _RUNNING, _FINISHED, _CANCELLED = range(4)


class Task(Generic[T]):
    """One submitted call: `result()` waits for its value or raises its exception."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._state = _PENDING
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self._value: T | None = None
        self._error: BaseException | None = None

    def cancel(self) -> bool:
        """Drop the call unless a worker has started it; True if it will not run."""
        with self._lock:
            if self._state == _PENDING:
                self._state = _CANCELLED
                self._finished.set()
            return self._state == _CANCELLED

    def result(self) -> T:
        self._finished.wait()
        if self._state == _CANCELLED:
            raise RuntimeError("result() of a cancelled task")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # T itself may be None

    def run(self) -> None:
        """Called by a worker: run the call unless it was cancelled."""
        with self._lock:
            if self._state != _PENDING:
                return
            self._state = _RUNNING
        try:
            self._value = self._call()
        except BaseException as error:
            self._error = error
        finally:
            self._state = _FINISHED
            self._finished.set()

    def fail(self, error: BaseException) -> None:
        """Called by a worker that cannot run calls: `result()` raises `error`."""
        with self._lock:
            if self._state != _PENDING:
                return
            self._state = _FINISHED
        self._error = error
        self._finished.set()


class WorkerThreads:
    """`count` threads named `<name>-0`, `<name>-1`...; each first calls `on_start` (e.g. to name itself).

    The owner calls `shutdown()`. The threads are daemons: a process that dies without it
    abandons their work as a crash would, which everything they do is made to survive.
    """

    def __init__(self, count: int, name: str, on_start: Callable[[], object] | None = None) -> None:
        self._tasks: SimpleQueue[Task[Any] | None] = SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, args=(on_start,), name=f"{name}-{i}", daemon=True) for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, call: Callable[..., T], *args: Any) -> Task[T]:
        task: Task[T] = Task(functools.partial(call, *args))
        self._tasks.put(task)
        return task

    def shutdown(self) -> None:
        """Wait for every submitted call (cancelled ones are skipped) and for the threads to end."""
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self, on_start: Callable[[], object] | None) -> None:
        start_error: BaseException | None = None
        if on_start is not None:
            try:
                on_start()
            except BaseException as error:
                start_error = error
        while (task := self._tasks.get()) is not None:
            if start_error is None:
                task.run()
            else:
                task.fail(start_error)
