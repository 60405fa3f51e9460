"""An archiver's heap: one malloc arena for all its threads, trimmed after a burst of work."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from supervisor_app.heap import trim_heap

# Four threads allocate at once, as compression workers do; then glibc's malloc_info (XML, one
# <heap> per arena) says how many arenas the process has.
ARENAS_AFTER_THREADS = textwrap.dedent(
    """
    import ctypes, sys, threading
    from supervisor_app.heap import use_one_arena

    if sys.argv[1] == "one-arena":
        assert use_one_arena()
    start = threading.Barrier(4)

    def work():
        start.wait()  # all at once, so that glibc would give each its own arena
        kept = [bytearray(256 * 1024) for _ in range(8)]
        start.wait()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.malloc_info.argtypes = libc.fclose.argtypes = None
    report = libc.fopen(sys.argv[2].encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(report))
    libc.fclose(ctypes.c_void_p(report))
    """
)


def _arenas(mode: str, tmp_path: Path) -> int:
    report = tmp_path / f"{mode}.xml"
    subprocess.run([sys.executable, "-c", ARENAS_AFTER_THREADS, mode, str(report)], check=True)
    return report.read_text().count("<heap nr=")


def test_every_thread_allocates_from_the_one_arena(tmp_path: Path) -> None:
    assert _arenas("arena-per-thread", tmp_path) > 1  # glibc's default, which the archiver turns off
    assert _arenas("one-arena", tmp_path) == 1


def test_trim_heap_runs_where_libc_is_glibc() -> None:
    assert trim_heap() is (os.confstr("CS_GNU_LIBC_VERSION") is not None)
