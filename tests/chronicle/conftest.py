"""The reference fixtures (real chronicle-rs queues) as pytest fixtures, and small segment builders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from supervisor_app.chronicle import (
    encode_segment_header,
    list_segment_ids,
    segment_name,
)

FIXTURES_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
CASE_NAMES = ("basic", "bigrecords", "midnight", "repaired", "tiny")


@dataclass(frozen=True)
class FixtureCase:
    """One folder of ../shared/fixtures: a queue and what the reference archiver made of it."""

    root: Path

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def queue(self) -> Path:
        return self.root / "queue"

    @property
    def segment_ids(self) -> list[int]:
        return list_segment_ids(self.queue)

    def segment_path(self, segment_id: int) -> Path:
        return self.queue / segment_name(segment_id)

    @property
    def segment_size(self) -> int:
        return self.segment_path(self.segment_ids[0]).stat().st_size


def _require(path: Path) -> Path:
    if not path.is_dir():
        pytest.skip(f"reference fixtures not found at {path} (expected ../shared/fixtures beside the repo)")
    return path


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fixture_case" in metafunc.fixturenames:
        metafunc.parametrize("fixture_case", CASE_NAMES, indirect=True)


@pytest.fixture
def fixture_case(request: pytest.FixtureRequest) -> FixtureCase:
    """Each reference case in turn (the test is parametrized over CASE_NAMES)."""
    return FixtureCase(_require(FIXTURES_ROOT / request.param))


@pytest.fixture
def fixtures_root() -> Path:
    """The reference fixtures folder; skips the test when it is absent."""
    return _require(FIXTURES_ROOT)


def build_segment(records: bytes, *, segment_id: int = 0, size: int = 4096, flags: int = 0) -> bytes:
    """A whole segment image of exactly `size` bytes: header, `records` (cut at `size`), zeros."""
    return (encode_segment_header(segment_id, flags) + records).ljust(size, b"\0")[:size]
