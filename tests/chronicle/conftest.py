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
from tests.reference import REFERENCE_FIXTURES as FIXTURES_ROOT

CASE_NAMES = ("basic", "bigrecords", "midnight", "repaired", "tiny")


@dataclass(frozen=True)
class FixtureCase:
    """One folder of tests/data/reference: a queue and what the reference archiver made of it."""

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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fixture_case" in metafunc.fixturenames:
        metafunc.parametrize("fixture_case", CASE_NAMES, indirect=True)


@pytest.fixture
def fixture_case(request: pytest.FixtureRequest) -> FixtureCase:
    """Each reference case in turn (the test is parametrized over CASE_NAMES)."""
    return FixtureCase(FIXTURES_ROOT / request.param)


@pytest.fixture
def fixtures_root() -> Path:
    """The vendored reference fixtures folder (tests/data/reference)."""
    return FIXTURES_ROOT


def build_segment(records: bytes, *, segment_id: int = 0, size: int = 4096, flags: int = 0) -> bytes:
    """A whole segment image of exactly `size` bytes: header, `records` (cut at `size`), zeros."""
    return (encode_segment_header(segment_id, flags) + records).ljust(size, b"\0")[:size]
