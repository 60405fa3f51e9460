"""Times in logs, status and metadata: written as datetime would write them, without loading it."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from supervisor_app.timefmt import iso_utc


@given(st.floats(min_value=0, max_value=253402300799.0, allow_nan=False))
def test_iso_utc_writes_what_datetime_writes(seconds: float) -> None:
    assert iso_utc(seconds) == dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_a_fraction_that_rounds_up_carries_into_the_second() -> None:
    assert iso_utc(59.9999996) == "1970-01-01T00:01:00.000000Z"
