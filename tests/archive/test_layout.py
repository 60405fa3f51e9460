"""Partition directory names: a real date as YYYY-MM-DD, as datetime would accept it."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervisor_app.archive.layout import is_partition_name, partition_date


def _is_iso_date(name: str) -> bool:
    try:
        dt.date.fromisoformat(name)
    except ValueError:
        return False
    return True


@given(st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32))
def test_a_date_shaped_name_is_a_partition_when_it_is_a_real_date(year: int, month: int, day: int) -> None:
    name = f"{year:04d}-{month:02d}-{day:02d}"
    assert is_partition_name(name) is _is_iso_date(name)


def test_other_names_are_not_partitions() -> None:
    for name in (
        "20260124",
        "2026-1-24",
        "2026-01-24x",
        ".staging",
        "2026-01-24 ",
        "\uff12\uff10\uff12\uff16-01-24",  # fullwidth digits: \d would take them without re.ASCII
        "2024-02-29"[:-1],
    ):
        assert not is_partition_name(name), name
    assert is_partition_name("2024-02-29")
    assert not is_partition_name("2023-02-29")


def test_partition_dates_at_the_ends_of_their_range_are_datetimes() -> None:
    assert partition_date(2**64 - 1, 0.0) == "2554-07-21"  # the largest u64 event time
    assert partition_date(None, -0.9) == partition_date(None, 0.9) == "1970-01-01"  # mtimes truncate toward zero
    assert partition_date(None, -1.0) == "1969-12-31"
    assert partition_date(None, 253_402_300_799.0) == "9999-12-31"
    assert partition_date(None, -62_135_596_800.0) == "0001-01-01"
    for beyond in (253_402_300_800.0, -62_135_596_801.0):
        with pytest.raises(ValueError):
            partition_date(None, beyond)
