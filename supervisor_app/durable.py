"""Crash-safe file publication: write a temp file, fsync it, rename it, fsync the directory."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

TMP_SUFFIX = ".tmp"


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (creations, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a file written (and closed) earlier to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durable(path: Path, *, up_to: Path | None = None) -> None:
    """Create `path` and its missing parents, and make the chain durable.

    With `up_to`, every directory between it and `path` has its parent fsynced, even
    those that already existed: a crash between an earlier mkdir and its fsync would
    otherwise leave an entry that a power loss can still take away.
    """
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # a concurrent creator won; the entry exists either way
            directory.mkdir()
        fsync_dir(directory.parent)
    if up_to is not None:
        for directory in _chain(path, up_to):
            if directory not in missing:
                fsync_dir(directory.parent)


def _chain(path: Path, top: Path) -> list[Path]:
    """`path` and its parents below `top`."""
    chain = []
    while path != top and top in path.parents:
        chain.append(path)
        path = path.parent
    return chain


def write_all(fd: int, data: bytes | memoryview) -> None:
    """os.write until every byte is written (a short write is legal on any file)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def tmp_path_for(final: Path) -> Path:
    return final.with_name(final.name + TMP_SUFFIX)


def write_file_atomically(final: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Publish `data` under `final` with `mode`: nobody ever sees a partial file under that name."""
    write_files_atomically([(final, data)], mode=mode)


def write_files_atomically(files: Sequence[tuple[Path, bytes]], *, mode: int = 0o644) -> None:
    """Publish each file whole, renaming them in the order given, then fsync each directory once.

    Every temp file is durable before the first rename, so a kill leaves a prefix of the
    renames done; so does a power loss on ext4 or XFS, which journal renames in order.
    """
    written: list[tuple[Path, Path]] = []
    try:
        for final, data in files:
            tmp = tmp_path_for(final)
            written.append((tmp, final))
            _write_durably(tmp, data, mode)
    except BaseException:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in written:
        os.replace(tmp, final)
    for directory in dict.fromkeys(final.parent for _, final in written):
        fsync_dir(directory)


def _write_durably(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # O_CREAT's mode is masked by the umask and ignored for a leftover tmp file
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_tmp_files(directory: Path) -> list[Path]:
    """Delete `*.tmp` left by a crash in `directory`; the caller must hold the archive lock."""
    removed = []
    for path in sorted(directory.glob("*" + TMP_SUFFIX)):
        if path.is_file():
            path.unlink()
            removed.append(path)
    if removed:
        fsync_dir(directory)
    return removed
