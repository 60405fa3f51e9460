"""process_limits: core lists, and settings applied to threads that already exist as well as later ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from supervisor_app.process_limits import format_cpus, parse_cpus
from tests.kernel_probe import thread_states


@pytest.mark.parametrize(
    ("text", "cores", "canonical"),
    [("0", {0}, "0"), ("0-3,8", {0, 1, 2, 3, 8}, "0-3,8"), ("5,1-2, 3", {1, 2, 3, 5}, "1-3,5"), ("7-7", {7}, "7")],
)
def test_core_lists_read_and_write(text: str, cores: set[int], canonical: str) -> None:
    assert parse_cpus(text) == cores
    assert format_cpus(cores) == canonical


@pytest.mark.parametrize(("text", "words"), [("", "''"), ("a", "'a'"), ("1-", "'1-'"), ("4-2", "'4-2' is empty")])
def test_bad_core_lists_say_which_part(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_cpus(text)


CHILD = """
import json, os, sys, threading
from supervisor_app.process_limits import ProcessLimits, apply_limits
early = threading.Event(); done = threading.Event()
before = threading.Thread(target=lambda: (early.set(), done.wait()))
before.start(); early.wait()
notes = apply_limits(ProcessLimits(nice=9, io_class="best-effort", io_level=5, cpu_affinity=frozenset({CORE})))
after = threading.Thread(target=done.wait)
after.start()
print(json.dumps({"notes": notes, "tids": [before.native_id, after.native_id]}), flush=True)
sys.stdin.read()
done.set()
"""


def test_settings_reach_threads_started_before_and_after() -> None:
    core = max(os.sched_getaffinity(0))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.replace("CORE", str(core))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        report = json.loads(child.stdout.readline())
        states = {s.tid: s for s in thread_states(child.pid)}
        assert set(report["tids"]) | {child.pid} <= set(states)
        for state in states.values():
            assert (state.nice, state.io_class, state.io_level, state.cpus) == (9, "best-effort", 5, {core}), state
        assert report["notes"] == []
        child.stdin.close()
        assert child.wait(10) == 0
    finally:
        child.kill()
        child.wait(10)
