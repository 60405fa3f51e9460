"""The settings fingerprint kept in venues.json."""

from __future__ import annotations

import hashlib

import pytest

from supervisor_app.supervision.venue_records import settings_fingerprint


@pytest.mark.parametrize("section", ["", "[program:venue-001]\ncommand=x\n", "ünïcødé ✓ 市场\n" * 1000])
def test_the_fingerprint_is_hashlib_s_sha256_so_records_written_before_still_match(section: str) -> None:
    assert settings_fingerprint(section) == hashlib.sha256(section.encode()).hexdigest()[:16]
