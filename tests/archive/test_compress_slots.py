"""The host-wide cap on compression threads: slots taken and released, waiting in line, dead holders."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from supervisor_app.archive.compress_slots import QUEUE_DIR, CompressSlots
from tests.cli.fleet_runner import wait_until


class Stop(Exception):
    pass


def never() -> None:
    pass


@pytest.fixture
def slots(tmp_path: Path) -> CompressSlots:
    return CompressSlots(tmp_path / "slots", 3)


class Holder(threading.Thread):
    """Takes slots as another archiver would (flock is per open file: threads of one process contend too)."""

    def __init__(self, slots: CompressSlots, wanted: int, log: list[str], name: str) -> None:
        super().__init__(daemon=True)
        self.slots, self.wanted, self.log, self.label = slots, wanted, log, name
        self.granted: int | None = None
        self.release = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        def check_stop() -> None:
            if self.stop.is_set():
                raise Stop

        with contextlib.suppress(Stop), self.slots.take(self.wanted, check_stop) as granted:
            self.granted = granted
            self.log.append(self.label)
            self.release.wait(30)


@contextlib.contextmanager
def holding(slots: CompressSlots, wanted: int, log: list[str], name: str) -> Iterator[Holder]:
    holder = Holder(slots, wanted, log, name)
    holder.start()
    try:
        yield holder
    finally:
        holder.stop.set()
        holder.release.set()
        holder.join(10)


def test_an_archiver_takes_what_it_wants_of_the_free_slots_and_fewer_when_fewer_are_free(slots: CompressSlots) -> None:
    log: list[str] = []
    with holding(slots, 2, log, "a") as a:
        wait_until(lambda: a.granted, what="a's slots")
        with slots.take(4, never) as granted:
            assert (a.granted, granted) == (2, 1)
    with slots.take(4, never) as granted:
        assert granted == 3


def test_with_no_slot_free_it_waits_until_one_is_released(slots: CompressSlots) -> None:
    log: list[str] = []
    with holding(slots, 3, log, "a") as a:
        wait_until(lambda: a.granted, what="a's slots")
        with holding(slots, 2, log, "b") as b:
            time.sleep(0.3)
            assert b.granted is None and log == ["a"]
            a.release.set()
            wait_until(lambda: b.granted, what="b's slots")
            assert (b.granted, log) == (2, ["a", "b"])


def test_an_archiver_that_releases_and_retakes_queues_behind_those_already_waiting(slots: CompressSlots) -> None:
    log: list[str] = []
    with holding(slots, 3, log, "busy") as busy:
        wait_until(lambda: busy.granted, what="busy's slots")
        with holding(slots, 3, log, "waiting") as waiting:
            wait_until(lambda: list((slots.directory / QUEUE_DIR).iterdir()), what="a ticket in line")
            busy.release.set()
            busy.join(10)
            # Its next segment: it finds someone in line and must not jump ahead.
            with holding(slots, 3, log, "busy again") as again:
                wait_until(lambda: again.granted is not None or waiting.granted is not None, what="a taker")
                assert log[:2] == ["busy", "waiting"]
                waiting.release.set()
                wait_until(lambda: again.granted, what="busy's next turn")
    assert log == ["busy", "waiting", "busy again"]


def test_a_stop_while_waiting_leaves_the_line(slots: CompressSlots) -> None:
    log: list[str] = []
    with holding(slots, 3, log, "a") as a:
        wait_until(lambda: a.granted, what="a's slots")
        waiter = Holder(slots, 1, log, "b")
        waiter.start()
        wait_until(lambda: list((slots.directory / QUEUE_DIR).iterdir()), what="b's ticket")
        waiter.stop.set()
        waiter.join(5)
        assert not waiter.is_alive() and waiter.granted is None
        assert list((slots.directory / QUEUE_DIR).iterdir()) == []


def test_the_slots_and_the_place_in_line_of_a_killed_archiver_are_freed(slots: CompressSlots, tmp_path: Path) -> None:
    script = f"""
import sys, time
from pathlib import Path
from supervisor_app.archive.compress_slots import CompressSlots
slots = CompressSlots(Path({str(slots.directory)!r}), {slots.count})
with slots.take(3, lambda: None) as granted:
    print(granted, flush=True)
    time.sleep(60)
"""
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "3"
        # A dead waiter's ticket: left in line, unlocked.
        dead_ticket = slots.directory / QUEUE_DIR / f"{time.monotonic_ns() - 10**9:020d}-999999-999999"
        dead_ticket.touch()
        log: list[str] = []
        with holding(slots, 2, log, "b") as b:
            time.sleep(0.3)
            assert b.granted is None
            holder.send_signal(signal.SIGKILL)
            wait_until(lambda: b.granted, what="the killed archiver's slots")
            assert b.granted == 2
        assert not dead_ticket.exists()
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()


def test_slot_files_are_private(slots: CompressSlots) -> None:
    with slots.take(1, never):
        pass
    assert os.stat(slots.directory).st_mode & 0o777 == 0o700
    assert os.stat(slots.slot_path(0)).st_mode & 0o777 == 0o600
