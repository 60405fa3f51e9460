"""A process's share of the host: CPU niceness, I/O priority and cores, for every one of its threads.

Linux keeps all three per thread: setpriority, ioprio_set and sched_setaffinity on an id
change that thread only, and a new thread starts with its creator's. So they are set on
every thread there is (at start, only the main one) and every thread made later has them.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from supervisor_app.errors import PermanentError

IoClass = Literal["idle", "best-effort"]
IO_CLASSES: tuple[IoClass, ...] = ("idle", "best-effort")

_IOPRIO_WHO_PROCESS = 1  # a thread id, in fact
_IOPRIO_CLASS_SHIFT = 13
_IOPRIO_CLASS_NUMBERS = {"realtime": 1, "best-effort": 2, "idle": 3}
_IOPRIO_CLASS_NAMES = {0: "none", **{number: name for name, number in _IOPRIO_CLASS_NUMBERS.items()}}
# (ioprio_set, ioprio_get): glibc has no wrapper for either.
_IOPRIO_SYSCALLS = {
    "x86_64": (251, 252),
    "aarch64": (30, 31),
    "riscv64": (30, 31),
    "ppc64le": (273, 274),
    "s390x": (282, 283),
}


@dataclass(frozen=True)
class ProcessLimits:
    """What to apply; None leaves a setting as the process inherited it."""

    nice: int | None = None
    io_class: IoClass | None = None
    io_level: int = 7  # with io_class best-effort
    cpu_affinity: frozenset[int] | None = None


@dataclass(frozen=True)
class ThreadLimits:
    """What the kernel says one thread has."""

    nice: int
    io_class: str  # "none" (the default: follows the nice value), "realtime", "best-effort" or "idle"
    io_level: int
    cpu_affinity: frozenset[int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "nice": self.nice,
            "io_class": self.io_class,
            "io_level": self.io_level,
            "cpu_affinity": format_cpus(self.cpu_affinity),
        }


def apply_limits(limits: ProcessLimits) -> list[str]:
    """Apply `limits` to every thread of this process; return why a nice value was left higher than asked.

    Asking for a lower nice value than the current one needs CAP_SYS_NICE; without it the
    thread keeps its current, gentler, value. Cores or an I/O class the kernel refuses are
    a PermanentError: running on the feed handlers' cores is what the settings forbid.
    """
    notes: list[str] = []
    for tid in thread_ids(os.getpid()):
        try:
            note = _apply_to_thread(tid, limits)
        except ProcessLookupError:
            continue  # the thread ended since it was listed
        if note is not None and note not in notes:
            notes.append(note)
    return notes


def _apply_to_thread(tid: int, limits: ProcessLimits) -> str | None:
    if limits.cpu_affinity is not None:
        _set_affinity(tid, limits.cpu_affinity)
    if limits.io_class is not None:
        set_io_priority(tid, limits.io_class, limits.io_level)
    return None if limits.nice is None else _set_nice(tid, limits.nice)


def read_limits(tid: int) -> ThreadLimits:
    """The nice value, I/O priority and cores of thread (or process) `tid`."""
    io_class, io_level = io_priority(tid)
    return ThreadLimits(
        nice=os.getpriority(os.PRIO_PROCESS, tid),
        io_class=io_class,
        io_level=io_level,
        cpu_affinity=frozenset(os.sched_getaffinity(tid)),
    )


def applied_limits(pid: int) -> dict[str, Any] | None:
    """What the kernel reports for process `pid` (its main thread; the others inherited it), or None if unknown."""
    try:
        return read_limits(pid).as_dict()
    except (OSError, PermanentError):  # gone, or I/O priorities unknown on this machine
        return None


def thread_ids(pid: int) -> list[int]:
    """Every thread of process `pid`, the main one (id `pid`) first."""
    others = sorted(int(name) for name in os.listdir(f"/proc/{pid}/task") if int(name) != pid)
    return [pid, *others]


def set_io_priority(tid: int, io_class: IoClass, level: int) -> None:
    """ioprio_set for one thread; the level counts with best-effort only."""
    value = _IOPRIO_CLASS_NUMBERS[io_class] << _IOPRIO_CLASS_SHIFT | (level if io_class == "best-effort" else 0)
    if _ioprio_syscall(0, _IOPRIO_WHO_PROCESS, tid, value) < 0:
        error = ctypes.get_errno()
        if error == errno.ESRCH:
            raise ProcessLookupError(error, f"no thread {tid}")
        raise PermanentError(f"cannot set the I/O priority {io_class} {level} of thread {tid}: {os.strerror(error)}")


def io_priority(tid: int) -> tuple[str, int]:
    """ioprio_get for one thread: (class name, level)."""
    value = _ioprio_syscall(1, _IOPRIO_WHO_PROCESS, tid)
    if value < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"ioprio_get of thread {tid}: {os.strerror(error)}")
    return _IOPRIO_CLASS_NAMES.get(value >> _IOPRIO_CLASS_SHIFT, "unknown"), value & ((1 << _IOPRIO_CLASS_SHIFT) - 1)


def parse_cpus(text: str) -> frozenset[int]:
    """'0-3,8' -> {0, 1, 2, 3, 8}; ValueError naming the part that is wrong."""
    cores: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"{part!r} is not a core number or a range like 2-5")
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(f"the range {part!r} is empty: write the lower core first")
        cores.update(range(first, last + 1))
    return frozenset(cores)


def format_cpus(cores: Iterable[int]) -> str:
    """{0, 1, 2, 5} -> '0-2,5'."""
    ranges: list[list[int]] = []
    for core in sorted(cores):
        if ranges and core == ranges[-1][1] + 1:
            ranges[-1][1] = core
        else:
            ranges.append([core, core])
    return ",".join(str(low) if low == high else f"{low}-{high}" for low, high in ranges)


def _set_affinity(tid: int, cores: frozenset[int]) -> None:
    try:
        os.sched_setaffinity(tid, cores)
    except ProcessLookupError:
        raise
    except OSError as exc:
        usable = format_cpus(os.sched_getaffinity(0))
        raise PermanentError(
            f"cannot run on cores {format_cpus(cores)} (this process may use {usable}): {exc.strerror}"
        ) from exc


def _set_nice(tid: int, nice: int) -> str | None:
    current = os.getpriority(os.PRIO_PROCESS, tid)
    try:
        os.setpriority(os.PRIO_PROCESS, tid, nice)
    except PermissionError:
        if nice < current:
            return f"nice {nice} is below the inherited {current} and needs CAP_SYS_NICE: kept {current}"
        raise
    return None


def _ioprio_syscall(which: int, *args: int) -> int:
    numbers = _IOPRIO_SYSCALLS.get(os.uname().machine)
    if numbers is None:
        raise PermanentError(f"I/O priorities are not supported on {os.uname().machine} by this program")
    return int(ctypes.CDLL(None, use_errno=True).syscall(numbers[which], *args))
