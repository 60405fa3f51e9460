"""What the kernel says about another process's threads, read without the code under test.

nice from /proc/<pid>/task/<tid>/stat, cores from Cpus_allowed_list in .../status, I/O
priority through the ioprio_get syscall, names from .../comm.
"""

from __future__ import annotations

import ctypes
import platform
from dataclasses import dataclass
from pathlib import Path

_IOPRIO_GET = {"x86_64": 252, "aarch64": 31, "riscv64": 31, "ppc64le": 274, "s390x": 283}
_IOPRIO_CLASSES = {0: "none", 1: "realtime", 2: "best-effort", 3: "idle"}


@dataclass(frozen=True)
class ThreadState:
    tid: int
    name: str
    nice: int
    cpus: frozenset[int]
    io_class: str
    io_level: int


def thread_states(pid: int) -> list[ThreadState]:
    """Every thread of `pid` that is still there by the time it is read."""
    states = []
    for task in sorted(Path(f"/proc/{pid}/task").iterdir()):
        try:
            states.append(thread_state(pid, int(task.name)))
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended meanwhile
    return states


def thread_state(pid: int, tid: int) -> ThreadState:
    task = Path(f"/proc/{pid}/task/{tid}")
    stat = (task / "stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after the name, which may hold spaces
    status = dict(line.split(":\t", 1) for line in (task / "status").read_text().splitlines() if ":\t" in line)
    io_class, io_level = ioprio(tid)
    return ThreadState(
        tid=tid,
        name=(task / "comm").read_text().strip(),
        nice=int(fields[16]),  # field 19 of stat: the third field is its 1st after the name
        cpus=_cpu_list(status["Cpus_allowed_list"].strip()),
        io_class=io_class,
        io_level=io_level,
    )


def ioprio(tid: int) -> tuple[str, int]:
    libc = ctypes.CDLL(None, use_errno=True)
    value = libc.syscall(_IOPRIO_GET[platform.machine()], 1, tid)  # IOPRIO_WHO_PROCESS
    if value < 0:
        raise ProcessLookupError(ctypes.get_errno(), f"ioprio_get({tid})")
    return _IOPRIO_CLASSES[value >> 13], value & 0x1FFF


def _cpu_list(text: str) -> frozenset[int]:
    cores: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        cores.update(range(int(low), int(high or low) + 1))
    return frozenset(cores)
