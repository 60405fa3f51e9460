"""Worker threads: calls run oldest first on named threads, results and errors reach the caller, shutdown joins."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from supervisor_app.thread_names import name_this_thread
from supervisor_app.worker_threads import WorkerThreads


def test_results_come_back_in_submission_order() -> None:
    workers = WorkerThreads(3, "t")
    try:
        tasks = [workers.submit(pow, n, 2) for n in range(100)]
        assert [task.result() for task in tasks] == [n * n for n in range(100)]
    finally:
        workers.shutdown()


def test_a_call_that_raises_raises_in_result_and_the_worker_goes_on() -> None:
    workers = WorkerThreads(1, "t")
    try:
        failing = workers.submit(int, "not a number")
        after = workers.submit(int, "7")
        with pytest.raises(ValueError, match="not a number"):
            failing.result()
        assert after.result() == 7
    finally:
        workers.shutdown()


def test_one_worker_runs_calls_one_at_a_time_in_order() -> None:
    order: list[int] = []
    workers = WorkerThreads(1, "t")
    for n in range(50):
        workers.submit(order.append, n)
    workers.shutdown()  # waits for every submitted call
    assert order == list(range(50))


def test_cancel_drops_a_call_no_worker_started_but_not_one_running() -> None:
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def blocking() -> None:
        started.set()
        release.wait(10)
        ran.append("first")

    workers = WorkerThreads(1, "t")
    running = workers.submit(blocking)
    queued = workers.submit(ran.append, "second")
    assert started.wait(10)
    assert not running.cancel()
    assert queued.cancel()
    release.set()
    workers.shutdown()
    running.result()
    assert ran == ["first"]
    with pytest.raises(RuntimeError, match="cancelled"):
        queued.result()


def test_threads_are_named_for_python_and_the_kernel_and_gone_after_shutdown() -> None:
    native: list[int] = []
    lock = threading.Lock()

    def on_start() -> None:
        name_this_thread(threading.current_thread().name)
        with lock:
            native.append(threading.get_native_id())

    workers = WorkerThreads(2, "probe", on_start)
    names = {workers.submit(lambda: threading.current_thread().name).result() for _ in range(20)}
    assert names <= {"probe-0", "probe-1"}
    deadline = time.monotonic() + 10
    while len(native) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    comms = {Path(f"/proc/self/task/{tid}/comm").read_text().strip() for tid in native}
    assert comms == {"probe-0", "probe-1"}
    workers.shutdown()
    assert not any(_lingers(tid) for tid in native)


def _lingers(tid: int) -> bool:
    """Whether the thread is still in /proc 5 s on (a joined thread may stay there for a moment)."""
    deadline = time.monotonic() + 5
    while Path(f"/proc/self/task/{tid}").exists():
        if time.monotonic() > deadline:
            return True
        time.sleep(0.001)
    return False


def test_a_failed_start_fails_every_call_that_thread_takes() -> None:
    def on_start() -> None:
        raise OSError("cannot name this thread")

    workers = WorkerThreads(1, "t", on_start)
    try:
        with pytest.raises(OSError, match="cannot name"):
            workers.submit(int, "1").result()
    finally:
        workers.shutdown()
