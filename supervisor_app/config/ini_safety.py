"""Config values that must survive supervisord's INI parser, checked at validation time so CI catches them.

supervisord reads its file with configparser and then %-expands most values: `%`
starts an expansion, ` ;` and ` #` start a comment, a newline starts a new key (and
`[` after it a new section), and values lose surrounding whitespace. The supervisor
doubles `%` when it renders; anything else that cannot be written so that it reads
back unchanged is refused here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from supervisor_app.config.model import FleetConfig, VenueConfig
from supervisor_app.config.problems import DataPath, Finding

# Process names double as section names and log file names: keep them plain.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_COMMENT_START = re.compile(r"(^|\s)[;#]")
UNIX_SOCKET_PATH_MAX = 107  # sun_path holds 108 bytes including the final NUL
# The longest name of a socket the supervisor keeps in its state directory.
LONGEST_STATE_SOCKET_NAME = "supervisord.sock"


def ini_problem(text: str) -> str | None:
    """Why `text` cannot be a supervisord config value, or None when it can (after escaping `%`)."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        return "contains a control character (a newline would start a new supervisord config line)"
    if _COMMENT_START.search(text):
        return "contains ';' or '#' after a space, which supervisord's config parser would cut off as a comment"
    if text != text.strip():
        return "starts or ends with whitespace, which supervisord's config parser would drop"
    return None


def plain_name_problem(text: str) -> str | None:
    if _PLAIN_NAME.fullmatch(text):
        return None
    return "is not a plain name (letters, digits, '.', '_', '-'; at most 64; starting with a letter or digit)"


def ini_findings(config: FleetConfig) -> list[Finding]:
    """Every config value that cannot be written into supervisord's configuration, at its config path."""
    seen: dict[tuple[DataPath, str], Finding] = {}
    for path, text, plain in _values(config):
        problem = plain_name_problem(text) if plain else ini_problem(text)
        if problem is not None:
            seen.setdefault((path, problem), Finding(path, f"{text!r} {problem}"))
    socket = config.supervisor.state_dir / LONGEST_STATE_SOCKET_NAME
    if len(str(socket).encode()) > UNIX_SOCKET_PATH_MAX:
        message = f"is too long: the socket path {socket} exceeds the {UNIX_SOCKET_PATH_MAX} bytes a unix socket allows"
        seen.setdefault((("supervisor", "state_dir"), "long"), Finding(("supervisor", "state_dir"), message))
    return list(seen.values())


def _values(config: FleetConfig) -> Iterator[tuple[DataPath, str, bool]]:
    """(config path, text, must be a plain name) for every config value that reaches the rendered file."""
    yield ("archive_root",), str(config.archive_root), False
    for key, value in (("endpoint", config.object_store.endpoint), ("region", config.object_store.region)):
        if value is not None:
            yield ("object_store", key), value, False
    yield ("supervisor", "state_dir"), str(config.supervisor.state_dir), False
    if config.supervisor.logs.directory is not None:
        yield ("supervisor", "log_dir"), str(config.supervisor.logs.directory), False
    for index, venue in enumerate(config.venues):
        if not venue.enabled:
            continue
        yield ("venues", index, "name"), venue.name, True
        yield ("venues", index, "archiver", "reader_name"), venue.archiver.reader_name, True
        yield _queue_path(venue, index), str(venue.queue_dir), False
        if venue.archive_root is not None:
            yield ("venues", index, "archive_root"), str(venue.archive_root), False


def _queue_path(venue: VenueConfig, index: int) -> DataPath:
    """The config path that names this venue's queue: its bus root, or its own `queue`."""
    if venue.source.startswith("bus:"):
        return ("buses", venue.source.removeprefix("bus:"))
    return ("venues", index, "queue")
