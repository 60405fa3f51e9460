"""Shared test helpers: the reference fixtures and a writable copy of their queues."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from tests.reference import REFERENCE_FIXTURES

FIXTURE_CASES = {
    "basic": "binance-perp",
    "midnight": "okx",
    "repaired": "bybit",
    "bigrecords": "deribit",
    "tiny": "coinbase",
}


@pytest.fixture
def fixtures_dir() -> Path:
    return REFERENCE_FIXTURES


def copy_tree_writable(source: Path, target: Path) -> Path:
    """Copy a read-only fixture tree and make the copy writable (the archiver writes readers/)."""
    shutil.copytree(source, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return target


@pytest.fixture
def fixture_queue(fixtures_dir: Path, tmp_path: Path):
    """A function returning a writable copy of a fixture case's queue."""

    def copy(case: str) -> Path:
        return copy_tree_writable(fixtures_dir / case / "queue", tmp_path / case / "queue")

    return copy


@pytest.fixture
def queue(fixture_queue) -> Path:
    """A writable copy of the `basic` fixture queue (binance-perp, 4 sealed segments)."""
    return fixture_queue("basic")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty archive root."""
    path = tmp_path / "archive"
    path.mkdir()
    return path
