"""Writing to journald through a stream: each line prefixed with its syslog priority, so `journalctl -p err` works.

systemd tells a service that its stdout/stderr is the journal through $JOURNAL_STREAM
("<device>:<inode>" of that stream); journald then reads a leading `<N>` as the line's
priority (SyslogLevelPrefix=, on by default) and keeps the rest, the JSON, as it is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import IO, Any

JOURNAL_STREAM_ENV = "JOURNAL_STREAM"
# syslog priorities (sd-daemon.h): our log levels and the stdlib's names for them.
PRIORITIES: Mapping[str, int] = MappingProxyType(
    {"critical": 2, "exception": 3, "error": 3, "warning": 4, "warn": 4, "info": 6, "debug": 7}
)


def is_journal(stream: IO[Any]) -> bool:
    """True when `stream` is the journal systemd connected us to."""
    expected = os.environ.get(JOURNAL_STREAM_ENV, "")
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return expected == f"{info.st_dev}:{info.st_ino}"


def priority_prefix(level: object) -> str:
    """`<3>` for error, `<6>` for info ...; info's for a level we do not know."""
    return f"<{PRIORITIES.get(str(level).lower(), 6)}>"
