"""A hung filesystem for tests, loaded through PYTHONPATH into the archivers they start (see tests/hang.py).

While the file $CF_TEST_HANG_MARKER exists, the first fsync of a file or directory under
$CF_TEST_HANG_UNDER takes it (renames it to `<marker>.taken`, so that only one thread of
one process hangs) and blocks until `<marker>.taken` is removed: a write to a hung NFS
server, in one thread, while the others run on. $CF_TEST_LIVENESS_TIMEOUT is added to the
archiver's command line as --liveness-timeout (under `run`, tests cannot change its argv).
Only processes with --archive-root on their command line (archivers) are touched.
"""

from __future__ import annotations

import os
import sys
import time

_MARKER = os.environ.get("CF_TEST_HANG_MARKER", "")
_UNDER = os.environ.get("CF_TEST_HANG_UNDER", "")
_LIVENESS = os.environ.get("CF_TEST_LIVENESS_TIMEOUT", "")
_real_fsync = os.fsync


def _hanging_fsync(fd: int) -> None:
    if os.path.exists(_MARKER) and _under_hang_dir(fd):
        try:
            os.rename(_MARKER, _MARKER + ".taken")
        except FileNotFoundError:
            pass  # another thread or process took it first
        else:
            while os.path.exists(_MARKER + ".taken"):
                time.sleep(0.05)
    _real_fsync(fd)


def _under_hang_dir(fd: int) -> bool:
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return False
    return target == _UNDER or target.startswith(_UNDER + "/")


if "--archive-root" in sys.argv:
    if _MARKER and _UNDER:
        os.fsync = _hanging_fsync
    if _LIVENESS:
        sys.argv += ["--liveness-timeout", _LIVENESS]
