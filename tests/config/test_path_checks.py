"""Deploy-time path checks against a real directory tree."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from supervisor_app.config import fleet_config_problems
from tests.commands import FLEET
from tests.config.sample_configs import BUS_HEAD, write_config

CONFIG = (
    BUS_HEAD
    + """\
  - name: okx
    bus: main
  - name: cb
    queue: cb-queue
  - name: later
    bus: main
    enabled: false
"""
)


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    return _fleet_in(tmp_path)


def messages(path: Path) -> list[str]:
    return [f"{p.line}:{p.column}: {p.path}: {p.message}" for p in fleet_config_problems(path, check_paths=True)]


def test_existing_sources_and_archive_pass_and_disabled_venues_are_not_checked(fleet: Path) -> None:
    assert messages(fleet) == []


def test_paths_are_not_checked_unless_asked(fleet: Path) -> None:
    (fleet.parent / "cb-queue").rmdir()
    assert fleet_config_problems(fleet) == []
    assert len(fleet_config_problems(fleet, check_paths=True)) == 1


def test_a_missing_queue_is_reported_at_its_declaration_and_a_missing_archive_root_is_created(fleet: Path) -> None:
    (fleet.parent / "bus/streams/raw/okx/queue").rmdir()
    (fleet.parent / "archive").rmdir()  # the archivers create it (mkdir -p), so it is fine while creatable
    root = fleet.parent
    assert messages(fleet) == [f"9:10: venues[0].bus: queue directory {root}/bus/streams/raw/okx/queue does not exist"]


def test_a_missing_archive_root_that_must_exist_is_reported(fleet: Path) -> None:
    (fleet.parent / "archive").rmdir()
    fleet.write_text(
        fleet.read_text().replace("archive_root: archive\n", "archive_root: archive\narchive_root_must_exist: true\n")
    )
    assert messages(fleet) == [
        f"2:15: archive_root: {fleet.parent}/archive does not exist (archive_root_must_exist is true: is it mounted?)"
    ]


def test_an_archive_root_that_cannot_be_created(fleet: Path) -> None:
    (fleet.parent / "archive").rmdir()
    (fleet.parent / "archive-parent").mkdir(mode=0o555)
    fleet.write_text(fleet.read_text().replace("archive_root: archive", "archive_root: archive-parent/archive"))
    unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    result = subprocess.run(
        [*unprivileged, *FLEET, "validate-config", "--check-paths", str(fleet)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.splitlines() == [
        f"{fleet}:2:15: archive_root: {fleet.parent}/archive-parent/archive cannot be created:"
        f" {fleet.parent}/archive-parent is not writable by this user"
    ]


def test_a_file_where_a_directory_belongs(fleet: Path) -> None:
    (fleet.parent / "cb-queue").rmdir()
    (fleet.parent / "cb-queue").write_text("not a directory")
    assert messages(fleet) == [f"11:12: venues[1].queue: queue directory {fleet.parent}/cb-queue is not a directory"]


def test_unwritable_archive_root(fleet: Path) -> None:
    archive = fleet.parent / "archive"
    archive.chmod(0o555)
    # Root may write anywhere: without its capability to override permissions, it may not.
    unprivileged = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    command = [*unprivileged, *FLEET, "validate-config", "--check-paths", str(fleet)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    finally:
        archive.chmod(0o755)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [f"{fleet}:2:15: archive_root: {archive} is not writable by this user"]


def _fleet_in(directory: Path) -> Path:
    (directory / "archive").mkdir()
    (directory / "bus/streams/raw/okx/queue").mkdir(parents=True)
    (directory / "cb-queue").mkdir()
    return write_config(directory, CONFIG)


def test_access_is_asked_of_the_os_for_each_directory(fleet: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Runs as root too, where chmod cannot take access away: the OS says no to the queue of `cb`.
    queue = fleet.parent / "cb-queue"
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != queue)
    assert messages(fleet) == [f"11:12: venues[1].queue: queue directory {queue} is not readable by this user"]
