"""Partition directory names: a real date as YYYY-MM-DD, as datetime would accept it."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from supervisor_app.archive.layout import is_partition_name


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
