"""The files `chronicle-fleet run` keeps in its state directory, and creating that directory safely."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

STATE_DIR_MODE = 0o700
LOG_DIR_MODE = 0o750  # the service's group (e.g. adm) may read the logs; the world may not


@dataclass(frozen=True)
class StateFiles:
    """Paths under one state directory."""

    root: Path

    @property
    def supervisord_conf(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def supervisord_socket(self) -> Path:
        return self.root / "supervisord.sock"

    @property
    def supervisord_log(self) -> Path:
        return self.root / "supervisord.log"  # supervisord's own plain text, kept out of the JSON streams

    @property
    def supervisord_pidfile(self) -> Path:
        return self.root / "supervisord.pid"

    @property
    def control_socket(self) -> Path:
        return self.root / "control.sock"

    @property
    def wake_socket(self) -> Path:
        return self.root / "wake.sock"  # supervisord's plugin pokes it on every state change

    @property
    def run_pidfile(self) -> Path:
        return self.root / "run.pid"  # `run`'s pid while it runs: for kill -HUP, and for people

    @property
    def venue_records(self) -> Path:
        return self.root / "venues.json"  # operator stops and restart counts, across restarts of `run`

    @property
    def lock(self) -> Path:
        return self.root / "run.lock"  # held by the one `run` that owns this directory


def make_private_dir(path: Path) -> None:
    """Create `path` (and parents) and make it 0700: sockets in it are then ours alone."""
    path.mkdir(mode=STATE_DIR_MODE, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(f"{path} is not a directory")
    if info.st_uid != os.geteuid():
        raise PermissionError(f"{path} belongs to uid {info.st_uid}, not to this user")
    # mkdir's mode is masked by the umask and ignored for an existing directory.
    os.chmod(path, STATE_DIR_MODE)


def make_log_dir(path: Path) -> None:
    """Create the venue log directory (and parents) with no world access, and take it away if it had some."""
    path.mkdir(mode=LOG_DIR_MODE, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o007:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o007)
