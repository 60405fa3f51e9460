"""Durations and sizes: what parses, to what, and how bounds are shown."""

from __future__ import annotations

from fractions import Fraction

import pytest

from supervisor_app.units import (
    parse_duration,
    parse_size,
    show_duration,
    show_size,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("10ms", 0.01),
        ("5s", 5.0),
        ("1.5 s", 1.5),
        ("2m", 120.0),
        ("1h", 3600.0),
        (3, 3.0),
        (0.25, 0.25),
    ],
)
def test_durations_parse_to_seconds(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["5", "5 sec", "1d", "-1s", "1e3s", "5s\n", " 5s", True, None, float("nan"), float("inf"), [1]]
)
def test_non_durations_give_none(text: object) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("text", "size"),
    [("1MiB", 1048576), ("64 KiB", 65536), ("2GiB", 2 * 1024**3), ("512B", 512), (4096, 4096), (4096.0, 4096)],
)
def test_sizes_parse_to_bytes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["1MB", "1.5MiB", "1 mib", "1M", "MiB", "1MiB\n", True, None, 1.5])
def test_non_sizes_give_none(text: object) -> None:
    assert parse_size(text) is None


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (0.01, "10ms"), (0.5, "500ms"), (7, "7s"), (60, "1m"), (90, "90s"), (3600, "1h"), (86400, "24h")],
)
def test_durations_show_in_the_largest_exact_unit(seconds: float, shown: str) -> None:
    assert show_duration(seconds) == shown


@pytest.mark.parametrize(
    ("size", "shown"), [(65536, "64 KiB"), (67108864, "64 MiB"), (4294967296, "4 GiB"), (1000, "1000 B"), (0, "0 B")]
)
def test_sizes_show_in_the_largest_exact_unit(size: int, shown: str) -> None:
    assert show_size(size) == shown


@pytest.mark.parametrize("unit", ["ms", "s", "m", "h"])
@pytest.mark.parametrize(
    "number", ["0", "1", "0.1", "0.3", "1.005", "2.675", "33.333", "0.000001", "123456789.987654321", "9" * 30]
)
def test_a_duration_is_the_exact_value_rounded_once_as_fractions_computes_it(number: str, unit: str) -> None:
    per_unit = {"ms": Fraction(1, 1000), "s": Fraction(1), "m": Fraction(60), "h": Fraction(3600)}[unit]
    assert parse_duration(f"{number}{unit}") == float(Fraction(number) * per_unit)
