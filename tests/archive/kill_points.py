"""The archiver, SIGKILLed at one exact metadata rename: `python -m tests.archive.kill_points N before|after ARGS...`.

Counts the renames onto `*.json` files (meta.json, sidecars, missing-segments.json) and sends
itself SIGKILL just before or just after the Nth: a real kill, with no cleanup run, at an
instant a random kill rarely hits. Without an Nth rename the archiver finishes normally.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from supervisor_app.cli.archiver import main


def kill_at_metadata_rename(kill_at: int, when: str) -> None:
    real_replace = os.replace
    renames = 0

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal renames
        is_metadata = os.fspath(dst).endswith(".json")
        renames += is_metadata
        if is_metadata and renames == kill_at and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst, *args, **kwargs)
        if is_metadata and renames == kill_at and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    os.replace = replace


if __name__ == "__main__":
    kill_at_metadata_rename(int(sys.argv[1]), sys.argv[2])
    sys.exit(main(sys.argv[3:]))
