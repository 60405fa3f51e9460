"""Local conditions no retry cures exit 78 (held, with the reason); the archiver never writes outside its archive root."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from supervisor_app.archive.verify import verify_archive
from supervisor_app.chronicle.reader_position import ReaderPosition, load_position, position_path, store_position
from tests.archive.queue_builders import write_queue
from tests.commands import archiver_cmd

VENUE = "binance-perp"
SEGMENT_SIZE = 64 * 1024
PARTITION = Path("raw/v1", VENUE, "2026-01-24/raw")


@pytest.fixture
def queue(tmp_path: Path) -> Path:
    path = tmp_path / "queue"
    write_queue(path, segments=3, segment_size=SEGMENT_SIZE)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "archive"
    path.mkdir()
    return path


def archive_once(cmd: list[str]) -> tuple[int, dict]:
    """Exit code and the archiver_failed line (empty if none)."""
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    failed = [e for e in map(json.loads, result.stderr.splitlines()) if e["event"] == "archiver_failed"]
    return result.returncode, failed[0] if failed else {}


def position(queue: Path) -> int:
    return load_position(position_path(queue, "raw-archiver")).segment_id


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_segment_name_that_is_no_file_is_held_not_retried_and_never_blocks(
    kind: str, queue: Path, root: Path
) -> None:
    segment = queue / "000000001.q"
    segment.unlink()
    if kind == "directory":
        segment.mkdir()
    else:
        os.mkfifo(segment)  # opening it to read would wait for a writer for ever
    code, failed = archive_once(archiver_cmd(queue, root, VENUE, "--once"))
    assert code == 78
    assert (
        failed["error"]
        == f"{segment}: is a {'directory' if kind == 'directory' else 'FIFO'}, not a segment file; move it out of the queue"
    )
    assert position(queue) == 1


def test_a_staging_directory_on_another_filesystem_is_held(queue: Path, root: Path) -> None:
    staging = root / "raw/v1" / VENUE / ".staging"
    staging.mkdir(parents=True)
    # A private mount namespace: a tmpfs over .staging that only this archiver sees.
    mounted = ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs tmpfs "$1" && shift && exec "$@"', "sh", str(staging)]
    code, failed = archive_once([*mounted, *archiver_cmd(queue, root, VENUE, "--once")])
    assert code == 78 and failed["error_type"] == "ArchiveRootError"
    assert failed["error"].startswith(f"{staging} is on another filesystem than {staging.parent}")


def test_a_partition_the_archiver_may_not_write_is_held(queue: Path, root: Path) -> None:
    assert archive_once(archiver_cmd(queue, root, VENUE, "--once"))[0] == 0
    (root / PARTITION).chmod(0o555)
    for i in range(3):
        (root / PARTITION / f"{i:09d}.meta.json").unlink(missing_ok=True)  # sidecars to write again, in vain
    store_position(position_path(queue, "raw-archiver"), ReaderPosition(0))  # archive the three again
    # Root may write anywhere: without its capability to override permissions, it may not.
    unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    try:
        code, failed = archive_once([*unprivileged, *archiver_cmd(queue, root, VENUE, "--once")])
    finally:
        (root / PARTITION).chmod(0o755)
    assert code == 78 and failed["error_type"] == "PermissionError" and failed["permanent"] is True
    assert str(root / PARTITION) in failed["error"]
    assert position(queue) == 0


@pytest.mark.parametrize("link", [Path("raw/v1", VENUE), PARTITION.parent, PARTITION])
def test_a_directory_that_is_a_symlink_out_of_the_root_is_refused(
    link: Path, queue: Path, root: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "000000009.q.tmp").write_bytes(b"not ours")  # a stale-temp sweep must never reach it
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(outside)
    code, failed = archive_once(archiver_cmd(queue, root, VENUE, "--once"))
    assert code == 78 and failed["error_type"] == "UnsafePathError"
    assert failed["error"].startswith(f"{root / link}: is a symbolic link (to {outside})")
    assert sorted(p.name for p in outside.iterdir()) == ["000000009.q.tmp"]
    assert any(f.message.startswith(f"symbolic link (to {outside})") for f in verify_archive(root).problems)


@pytest.mark.parametrize("lock", ["archive", "queue"])
def test_a_lock_file_that_is_a_symlink_is_refused(lock: str, queue: Path, root: Path, tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    if lock == "archive":
        path = root / "raw/v1" / VENUE / ".archiver.lock"
        path.parent.mkdir(parents=True)
    else:
        path = queue / "readers/raw-archiver.lock"
        assert archive_once(archiver_cmd(queue, root, VENUE, "--once"))[0] == 0  # readers/ exists now
    path.unlink(missing_ok=True)
    path.symlink_to(target)
    code, failed = archive_once(archiver_cmd(queue, root, VENUE, "--once"))
    assert code == 78 and failed["error"].startswith(f"{path}: is a symbolic link")
    assert target.read_text() == "keep me"


def test_verify_reports_symlinks_and_does_not_follow_them(queue: Path, root: Path, tmp_path: Path) -> None:
    assert archive_once(archiver_cmd(queue, root, VENUE, "--once"))[0] == 0
    partition = root / PARTITION
    real = tmp_path / "real.q"
    real.write_bytes((partition / "000000001.q").read_bytes())
    (partition / "000000001.q").unlink()
    (partition / "000000001.q").symlink_to(real)
    (root / "raw/v1/elsewhere").symlink_to(tmp_path)
    found = {(f.path, f.message.split(":")[0]) for f in verify_archive(root).problems}
    assert found == {
        (partition / "000000001.q", f"symbolic link (to {real})"),
        (partition / "000000001.q", "listed in 000000001.meta.json but a symbolic link"),
        (root / "raw/v1/elsewhere", f"symbolic link (to {tmp_path})"),
    }
