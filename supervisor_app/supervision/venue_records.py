"""What the supervisor remembers of each venue across restarts of `run` and reboots: an operator's stop, restart counts.

Kept in `<state_dir>/venues.json`, rewritten atomically on each change (rare: an
operator command, a restart). A stop is remembered with a fingerprint of the venue's
settings: a config change to that venue releases it, like `chronicle-fleet start`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from supervisor_app.durable import write_file_atomically

try:
    # CPython's own SHA-256, as `random` takes its _sha512: hashlib's loads OpenSSL's libcrypto, ~3.4 MiB of `run`'s RSS.
    from _sha256 import sha256  # type: ignore[import-not-found]
except ImportError:  # Python 3.12 renamed it; a build without it has hashlib's
    try:
        from _sha2 import sha256  # type: ignore[import-not-found]
    except ImportError:
        from hashlib import sha256

RECORDS_FILE = "venues.json"
_FORMAT = "chronicle-fleet.venue-records.v1"


def settings_fingerprint(program_section: str) -> str:
    """A short digest of everything that reaches a venue's archiver (its rendered program section)."""
    return sha256(program_section.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class VenueRecord:
    """One venue's remembered facts."""

    stopped_with: str | None = None  # settings fingerprint at an operator's stop; None: not stopped
    restarts: Mapping[str, int] = field(default_factory=dict)  # reason -> count, ever


class VenueRecords:
    """The records of every venue; `path` None keeps them in memory only (tests, a fleet without a state dir)."""

    def __init__(self, path: Path | None, *, log: Any) -> None:
        self._path = path
        self._log = log
        self._records: dict[str, VenueRecord] = self._load() if path is not None else {}

    def get(self, name: str) -> VenueRecord:
        return self._records.get(name, VenueRecord())

    def stopped_by_operator(self, name: str, fingerprint: str) -> bool:
        """True when an operator stopped this venue and its settings have not changed since."""
        return self.get(name).stopped_with == fingerprint

    def kept_stopped(self, name: str, fingerprint: str) -> bool:
        """At `run`'s start: an operator's stop outlives `run` until a start, or until the venue's settings change."""
        if self.stopped_by_operator(name, fingerprint):
            self._log.info(
                "kept_stopped", venue=name, reason="stopped by an operator", action=f"chronicle-fleet start {name}"
            )
            return True
        self.released(name)
        return False

    def operator_stopped(self, name: str, fingerprint: str) -> None:
        self._put(name, replace(self.get(name), stopped_with=fingerprint))

    def released(self, name: str) -> None:
        """An operator start, or a config change: the venue runs again."""
        if self.get(name).stopped_with is not None:
            self._put(name, replace(self.get(name), stopped_with=None))

    def count_restart(self, name: str, reason: str) -> None:
        restarts = dict(self.get(name).restarts)
        restarts[reason] = restarts.get(reason, 0) + 1
        self._put(name, replace(self.get(name), restarts=restarts))

    def forget(self, name: str) -> None:
        if self._records.pop(name, None) is not None:
            self._save()

    def _put(self, name: str, record: VenueRecord) -> None:
        self._records[name] = record
        self._save()

    def _load(self) -> dict[str, VenueRecord]:
        assert self._path is not None
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            return {name: _record(entry) for name, entry in data["venues"].items()}
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
            # Losing these counts restarts and operator stops; neither loses a segment.
            self._log.error(
                "venue_records_unreadable",
                path=str(self._path),
                error=str(error),
                action="starting from empty records: operator stops are forgotten, restart counts restart at 0",
            )
            return {}

    def _save(self) -> None:
        if self._path is None:
            return
        document = {
            "format": _FORMAT,
            "venues": {
                name: {"stopped_with": record.stopped_with, "restarts": dict(record.restarts)}
                for name, record in sorted(self._records.items())
            },
        }
        write_file_atomically(self._path, (json.dumps(document, indent=2) + "\n").encode(), mode=0o600)


def _record(entry: Any) -> VenueRecord:
    stopped = entry.get("stopped_with")
    restarts = entry.get("restarts", {})
    if stopped is not None and not isinstance(stopped, str):
        raise TypeError(f"stopped_with is {stopped!r}, not a string")
    if not all(isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in restarts.items()):
        raise TypeError(f"restarts is {restarts!r}, not counts by reason")
    return VenueRecord(stopped, dict(restarts))
