"""Operations whose answer waits until their venues have settled (or a deadline has passed)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from supervisor_app.archive.queue_lock import queue_lock_holder
from supervisor_app.supervision.commands import Reply
from supervisor_app.supervision.venue import Phase, Venue

# The phase each operation leaves its venues in when it worked.
WANTED: Mapping[str, Phase] = {"start": "running", "restart": "running", "stop": "stopped"}


@dataclass(frozen=True)
class Pending:
    """One operation waiting for its venues."""

    kind: str
    venues: tuple[str, ...]
    future: Future[Reply] | None
    deadline: float
    summary: Mapping[str, Any] = field(default_factory=dict)

    def ok(self, venue: Venue) -> bool:
        wanted = WANTED.get(self.kind)
        return wanted is None or venue.phase == wanted

    def result(self, venue: Venue, row: Reply) -> Reply:
        """A venue's row in the answer: a stop is not done while any archiver still holds the venue's queue."""
        row = {**row, "ok": self.ok(venue)}
        if self.kind == "stop" and venue.phase == "stopped":
            try:
                holder = queue_lock_holder(venue.config.queue_dir, venue.config.archiver.reader_name)
            except OSError:
                holder = None  # no readers/ directory, or none we may read: no archiver holds it
            if holder is not None:
                row["ok"] = False
                row["held_reason"] = f"an archiver still runs on its queue: {holder.describe()}"
        return row


class PendingAnswers:
    """The operations still waiting, oldest first."""

    def __init__(self) -> None:
        self._waiting: list[Pending] = []

    def add(self, pending: Pending) -> None:
        self._waiting.append(pending)

    def ready(self, venues: Mapping[str, Venue], now: float) -> list[tuple[Pending, list[Venue]]]:
        """Take out the operations whose venues have all settled, or whose deadline has passed."""
        ready, waiting = [], []
        for pending in self._waiting:
            present = [venues[name] for name in pending.venues if name in venues]
            if all(venue.settled for venue in present) or now > pending.deadline:
                ready.append((pending, present))
            else:
                waiting.append(pending)
        self._waiting = waiting
        return ready
