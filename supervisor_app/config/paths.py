"""Config paths: resolved against the config file's directory, compared without touching the disk."""

from __future__ import annotations

import os
from pathlib import Path


def resolve_path(base: Path, text: str) -> Path:
    """`text` made absolute against `base`, with `.` and `..` folded.

    Folding is textual (no symlinks are followed) so that CI and the deploy host
    agree on what a config means.
    """
    return Path(os.path.normpath(base / text))


def is_within(inner: Path, outer: Path) -> bool:
    """True when `inner` is `outer` or lies below it."""
    return inner == outer or outer in inner.parents
