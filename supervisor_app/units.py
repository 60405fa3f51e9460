"""Durations ("500ms", "5s") and sizes ("1MiB"): parsing, and showing a bound in the same unit.

A duration is seconds as a number or a string with a unit; a size is bytes as an
integer or a string with a binary unit. The patterns are the schema's, verbatim.
"""

from __future__ import annotations

import math
import re

# `(?!\n)$` rather than `$`: Python's `$` also matches before a final newline.
DURATION_PATTERN = r"^[0-9]+(\.[0-9]+)? ?(ms|s|m|h)(?!\n)$"
SIZE_PATTERN = r"^[0-9]+ ?(B|KiB|MiB|GiB)(?!\n)$"

_DURATION = re.compile(DURATION_PATTERN)
_SIZE = re.compile(SIZE_PATTERN)
_NUMBER_AND_UNIT = re.compile(r"([0-9.]+) ?([A-Za-z]+)")
# Seconds per unit as exact (numerator, denominator) pairs.
_SECONDS_PER_UNIT = (("ms", (1, 1000)), ("s", (1, 1)), ("m", (60, 1)), ("h", (3600, 1)))
_BYTES_PER_UNIT = (("B", 1), ("KiB", 1024), ("MiB", 1024**2), ("GiB", 1024**3))


def parse_duration(value: object) -> float | None:
    """Seconds for a finite number or a duration string; None for anything else."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) else None
    if not isinstance(value, str) or not _DURATION.match(value):
        return None
    number, unit = _split(value)
    whole, _, decimals = number.partition(".")
    per_unit, per_unit_denominator = dict(_SECONDS_PER_UNIT)[unit]
    # Exact in integers, rounded once by the division (as Fraction would; fractions loads decimal, ~0.5 MiB).
    return int(whole + decimals) * per_unit / (10 ** len(decimals) * per_unit_denominator)


def parse_size(value: object) -> int | None:
    """Bytes for an integer or a size string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return int(value)
    if not isinstance(value, str) or not _SIZE.match(value):
        return None
    number, unit = _split(value)
    return int(number) * dict(_BYTES_PER_UNIT)[unit]


def show_duration(seconds: float) -> str:
    """`0.5` -> `500ms`, `60` -> `1m`, `7` -> `7s`: the largest unit that divides it exactly."""
    from fractions import Fraction  # here: it loads decimal (~0.5 MiB), which only show-config needs

    exact = Fraction(seconds).limit_denominator(1000)
    if exact == 0:
        return "0s"
    for unit, ratio in reversed(_SECONDS_PER_UNIT):
        size = Fraction(*ratio)
        if (exact / size).denominator == 1:
            return f"{exact / size}{unit}"
    return f"{seconds}s"


def show_size(size: int) -> str:
    """`65536` -> `64 KiB`: the largest unit that divides it exactly."""
    for unit, factor in reversed(_BYTES_PER_UNIT):
        if size % factor == 0 and size >= factor:
            return f"{size // factor} {unit}"
    return f"{size} B"


def _split(text: str) -> tuple[str, str]:
    """`"1.5 s"` -> `("1.5", "s")`; only called on text its pattern already accepted."""
    parts = _NUMBER_AND_UNIT.fullmatch(text)
    assert parts is not None
    return parts.group(1), parts.group(2)
