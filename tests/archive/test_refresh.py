"""When an archiver refreshes: only after work, once idle for the setting; never without one."""

from __future__ import annotations

import time

from supervisor_app.archive.refresh import RefreshClock


def test_no_refresh_before_any_work() -> None:
    clock = RefreshClock(0.0)
    clock.passed(0)
    assert clock.due() is None


def test_due_once_idle_for_the_setting_after_work_and_not_again_until_more_work() -> None:
    clock = RefreshClock(0.05)
    clock.passed(3)
    assert clock.due() is None  # just worked
    time.sleep(0.06)
    clock.passed(0)  # an idle pass does not restart the count
    idle_s = clock.due()
    assert idle_s is not None and idle_s >= 0.05
    clock.reset()
    assert clock.due() is None
    clock.passed(1)
    time.sleep(0.06)
    assert clock.due() is not None


def test_never_without_a_setting() -> None:
    clock = RefreshClock(None)
    clock.passed(5)
    time.sleep(0.01)
    assert clock.due() is None
