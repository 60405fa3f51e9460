"""A write that hangs for good, in one thread of a real archiver: the environment for tests/hooks/sitecustomize.py."""

from __future__ import annotations

import os
from pathlib import Path

HOOKS = Path(__file__).parent / "hooks"


def hang_environment(marker: Path, under: Path, *, liveness_timeout_s: float | None = None) -> dict[str, str]:
    """Variables that make the next fsync under `under` hang once `marker` exists, until `taken(marker)` is removed."""
    env = {
        "PYTHONPATH": os.pathsep.join(p for p in (str(HOOKS), os.environ.get("PYTHONPATH", "")) if p),
        "CF_TEST_HANG_MARKER": str(marker),
        "CF_TEST_HANG_UNDER": str(under.resolve()),
    }
    if liveness_timeout_s is not None:
        env["CF_TEST_LIVENESS_TIMEOUT"] = str(liveness_timeout_s)
    return env


def taken(marker: Path) -> Path:
    """Exists while a thread hangs on the marker; remove it to let the write go through."""
    return marker.with_name(marker.name + ".taken")
