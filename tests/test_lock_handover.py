"""A re-exec that keeps its locks: same pid, and no instant at which another process could take them."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from supervisor_app.archive.queue_lock import queue_lock_holder
from supervisor_app.lock_handover import ENV, LockHandover

# Takes a flock (the archive's lock) and a queue lock (OFD), then re-execs itself twice on cue.
CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from supervisor_app.archive.queue_lock import QueueLock
    from supervisor_app.file_lock import exclusive_lock
    from supervisor_app.lock_handover import LockHandover

    handover = LockHandover.from_environment(os.environ)
    image = int(os.environ.get("IMAGE", "0"))
    with exclusive_lock(Path(sys.argv[1]), held_elsewhere=lambda: RuntimeError("busy"), handover=handover):
        lock = QueueLock.acquire(Path(sys.argv[2]), "r", venue="v", archive_root=Path("/a"), handover=handover)
        print(image, os.getpid(), handover.inherited, sorted(os.listdir("/proc/self/fd")), flush=True)
        sys.stdin.readline()
        if image < 2:
            os.environ["IMAGE"] = str(image + 1)
            print("failed", handover.reexec(stopping=lambda: False), flush=True)
        lock.release()
    """
)


def test_both_locks_stay_held_through_two_reexecs_and_the_pid_stays(tmp_path: Path) -> None:
    archive_lock, queue = tmp_path / "archive.lock", tmp_path / "queue"
    (queue / "readers").mkdir(parents=True)
    taken_by_us: list[str] = []
    done = threading.Event()

    def try_to_take() -> None:  # all along, as another archiver would
        while not done.is_set():
            fd = os.open(archive_lock, os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                taken_by_us.append("archive lock")
            except BlockingIOError:
                pass
            finally:
                os.close(fd)
            if queue_lock_holder(queue, "r") is None:
                taken_by_us.append("queue lock free")

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(archive_lock), str(queue)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        images = [child.stdout.readline().split(maxsplit=3)]
        contender = threading.Thread(target=try_to_take)
        contender.start()
        for _ in range(2):
            child.stdin.write("\n")
            child.stdin.flush()
            images.append(child.stdout.readline().split(maxsplit=3))
        done.set()
        contender.join()
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(30) == 0
    finally:
        done.set()
        child.kill()
    assert [image[0] for image in images] == ["0", "1", "2"]
    assert {image[1] for image in images} == {str(child.pid)}
    assert [image[2] for image in images] == ["False", "True", "True"]
    assert images[0][3] == images[2][3]  # no descriptor left over: the new ones were closed, the inherited kept
    assert taken_by_us == []


def test_descriptors_that_are_not_open_are_ignored() -> None:
    environ = {ENV: "1000001,x,", "OTHER": "1"}
    handover = LockHandover.from_environment(environ)
    assert environ == {"OTHER": "1"}  # taken out: nothing this process runs inherits it
    assert not handover.inherited


def test_a_file_not_inherited_is_locked_through_its_own_descriptor(tmp_path: Path) -> None:
    handover = LockHandover()
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    try:
        assert handover.adopt(fd) == fd
    finally:
        os.close(fd)


def test_inherited_descriptors_not_adopted_are_closed_and_adopted_ones_kept(tmp_path: Path) -> None:
    kept, stale = (os.open(tmp_path / name, os.O_RDWR | os.O_CREAT) for name in ("kept", "stale"))
    keys = {fd: (os.fstat(fd).st_dev, os.fstat(fd).st_ino) for fd in (kept, stale)}
    handover = LockHandover.from_environment({ENV: ",".join(f"{fd}:{dev}:{ino}" for fd, (dev, ino) in keys.items())})
    fresh = os.open(tmp_path / "kept", os.O_RDWR)
    assert handover.adopt(fresh) == kept
    handover.close_unadopted()
    os.fstat(kept)  # still open
    for closed in (stale, fresh):
        with pytest.raises(OSError):
            os.fstat(closed)
    os.close(kept)


def test_a_stray_setting_naming_other_descriptors_is_not_taken_and_closes_nothing(tmp_path: Path) -> None:
    """Copied from another process, or typed by hand: only a descriptor on the very file it names is adopted."""
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    (tmp_path / "g").touch()
    other = os.stat(tmp_path / "g")
    environ = {ENV: f"0,1,2,{fd}:{other.st_dev}:{other.st_ino}"}
    handover = LockHandover.from_environment(environ)
    assert not handover.inherited
    handover.close_unadopted()
    for std in (0, 1, 2, fd):
        os.fstat(std)  # all still open
    os.close(fd)
