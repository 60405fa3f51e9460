"""Recorded losses of one venue (missing segments, corrupt segments, queue resets) and their acknowledgements.

Every loss fails `verify` until an operator acknowledges it: `acknowledged-losses.json`
in the venue's archive says who acknowledged which losses and when. An acknowledgement
names the losses it covers as they were recorded when it was given (a missing segment by
id and detection time, a corrupt one by partition and id, a reset by detection time), so
a loss recorded later, even under a reused id, fails again.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor_app.archive.layout import META_FILE_NAME, ArchiveLayout
from supervisor_app.archive.meta import MAX_SEGMENT_ID, current_summary, load_sidecar, sidecar_ids, sidecar_name
from supervisor_app.archive.metadata_files import MAX_META_BYTES, Fields, Source, read_json
from supervisor_app.archive.missing import MissingSegment, load_missing
from supervisor_app.archive.resets import QueueReset, load_resets
from supervisor_app.durable import write_file_atomically

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RANGE = re.compile(r"([0-9]{1,9})(?:-([0-9]{1,9}))?")


@dataclass(frozen=True)
class LossSelection:
    """What `--acknowledge VENUE:WHAT` names: `all`, `resets`, or segment ids and ranges (`3,5-9`)."""

    text: str
    everything: bool = False
    resets: bool = False
    ranges: tuple[tuple[int, int], ...] = ()

    def covers_segment(self, segment_id: int) -> bool:
        return self.everything or any(first <= segment_id <= last for first, last in self.ranges)

    @property
    def covers_resets(self) -> bool:
        return self.everything or self.resets


def parse_selection(text: str) -> LossSelection:
    """`all`, `resets`, or comma-separated ids and `first-last` ranges; ValueError says what is wrong."""
    if text in ("all", "resets"):
        return LossSelection(text, everything=text == "all", resets=text == "resets")
    ranges = []
    for part in text.split(","):
        match = _RANGE.fullmatch(part.strip())
        if match is None:
            raise ValueError(f"{part.strip()!r} is not a segment id or a range like 5-9 (or say all, or resets)")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if first > last or last > MAX_SEGMENT_ID:
            raise ValueError(f"{part.strip()!r} is not a range of segment ids (0..{MAX_SEGMENT_ID}, first <= last)")
        ranges.append((first, last))
    return LossSelection(text, ranges=tuple(ranges))


@dataclass(frozen=True)
class Acknowledgement:
    """One operator's acknowledgement of some of a venue's recorded losses."""

    by: str
    at_ns: int
    reason: str | None
    selection: str  # as the operator wrote it
    missing: frozenset[tuple[int, int]] = frozenset()  # (segment_id, detected_at_ns)
    corrupt: frozenset[tuple[str, int]] = frozenset()  # (partition date, segment_id)
    resets: frozenset[int] = frozenset()  # detected_at_ns

    @property
    def count(self) -> int:
        return len(self.missing) + len(self.corrupt) + len(self.resets)

    def to_json(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "at_ns": self.at_ns,
            "reason": self.reason,
            "selection": self.selection,
            "missing": [{"segment_id": i, "detected_at_ns": t} for i, t in sorted(self.missing)],
            "corrupt": [{"date": d, "segment_id": i} for d, i in sorted(self.corrupt)],
            "queue_resets": [{"detected_at_ns": t} for t in sorted(self.resets)],
        }

    @classmethod
    def from_fields(cls, item: Fields) -> Acknowledgement:
        return cls(
            by=item.text("by", min_chars=1),
            at_ns=item.integer("at_ns"),
            reason=item.optional_text("reason", max_chars=1000),
            selection=item.text("selection", max_chars=4096),
            missing=frozenset(
                (m.integer("segment_id", maximum=MAX_SEGMENT_ID), m.integer("detected_at_ns"))
                for m in item.objects("missing")
            ),
            corrupt=frozenset(
                (c.text("date", pattern=_DATE), c.integer("segment_id", maximum=MAX_SEGMENT_ID))
                for c in item.objects("corrupt")
            ),
            resets=frozenset(r.integer("detected_at_ns") for r in item.objects("queue_resets")),
        )


def load_acknowledgements(path: Path) -> list[Acknowledgement]:
    """The venue's acknowledgements, oldest first (empty if none); CorruptArchiveError names what is wrong."""
    document = read_json(path, MAX_META_BYTES)
    return [] if document is None else acknowledgements_from_json(document, path)


def acknowledgements_from_json(document: Any, path: Source) -> list[Acknowledgement]:
    """The acknowledgements an `acknowledged-losses.json` document read from `path` holds, oldest first."""
    fields = Fields(document, path)
    fields.text("venue", min_chars=1)
    return [Acknowledgement.from_fields(item) for item in fields.objects("acknowledgements")]


@dataclass(frozen=True)
class Acknowledged:
    """Which losses some acknowledgement covers, and the first that does."""

    by_loss: dict[tuple[Any, ...], Acknowledgement] = field(default_factory=dict)

    @classmethod
    def of(cls, acknowledgements: list[Acknowledgement]) -> Acknowledged:
        covered: dict[tuple[Any, ...], Acknowledgement] = {}
        for ack in acknowledgements:
            for key in _keys(ack):
                covered.setdefault(key, ack)
        return cls(covered)

    def missing(self, loss: MissingSegment) -> Acknowledgement | None:
        return self.by_loss.get(("missing", loss.segment_id, loss.detected_at_ns))

    def corrupt(self, date: str, segment_id: int) -> Acknowledgement | None:
        return self.by_loss.get(("corrupt", date, segment_id))

    def reset(self, reset: QueueReset) -> Acknowledgement | None:
        return self.by_loss.get(("reset", reset.detected_at_ns))


def _keys(ack: Acknowledgement) -> Iterator[tuple[Any, ...]]:
    yield from (("missing", *m) for m in ack.missing)
    yield from (("corrupt", *c) for c in ack.corrupt)
    yield from (("reset", t) for t in ack.resets)


def acknowledge_losses(
    layout: ArchiveLayout, selection: LossSelection, *, by: str, reason: str | None, now_ns: int
) -> Acknowledgement | None:
    """Record that `by` acknowledges the venue's unacknowledged losses `selection` names; None if there are none.

    Reads every sidecar of the partitions whose summary counts corrupt segments (an
    operator's command, not a hot path). CorruptArchiveError if a record is damaged.
    """
    with _venue_locked(layout):
        path = layout.acknowledged_path
        known = load_acknowledgements(path)
        missing = load_missing(layout.missing_segments_path)
        resets = load_resets(layout.queue_resets_path)
        ack = new_acknowledgement(
            known, missing, corrupt_segments(layout), resets, selection, by=by, reason=reason, now_ns=now_ns
        )
        if ack is not None:
            write_file_atomically(path, acknowledgements_bytes(layout.venue, [*known, ack]))
        return ack


def new_acknowledgement(
    known: list[Acknowledgement],
    missing: list[MissingSegment],
    corrupt: list[tuple[str, int]],
    resets: list[QueueReset],
    selection: LossSelection,
    *,
    by: str,
    reason: str | None,
    now_ns: int,
) -> Acknowledgement | None:
    """The acknowledgement of the recorded losses `selection` names that `known` does not cover yet; None if none."""
    already = Acknowledged.of(known)
    ack = Acknowledgement(
        by=by,
        at_ns=now_ns,
        reason=reason,
        selection=selection.text,
        missing=frozenset(
            (m.segment_id, m.detected_at_ns)
            for m in missing
            if selection.covers_segment(m.segment_id) and already.missing(m) is None
        ),
        corrupt=frozenset(
            (date, segment_id)
            for date, segment_id in corrupt
            if selection.covers_segment(segment_id) and already.corrupt(date, segment_id) is None
        ),
        resets=frozenset(r.detected_at_ns for r in resets if selection.covers_resets and already.reset(r) is None),
    )
    return ack if ack.count else None


def acknowledgements_bytes(venue: str, acknowledgements: list[Acknowledgement]) -> bytes:
    """An `acknowledged-losses.json` document."""
    document = {"venue": venue, "acknowledgements": [a.to_json() for a in acknowledgements]}
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


@contextmanager
def _venue_locked(layout: ArchiveLayout) -> Iterator[None]:
    """Two operators acknowledging at once must not lose one's record (the archivers never write this file)."""
    fd = os.open(layout.venue_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def corrupt_segments(layout: ArchiveLayout) -> list[tuple[str, int]]:
    """(partition date, segment id) of every segment archived corrupt; sidecars read only where a summary counts one."""
    found = []
    for partition in layout.partition_dirs():
        summary = current_summary(partition / META_FILE_NAME)
        if summary is None or not summary.corrupt_segment_count:
            continue
        date = partition.parent.name
        entries = (load_sidecar(partition / sidecar_name(i)) for i in sidecar_ids(partition))
        found += [(date, e.segment_id) for e in entries if e is not None and e.corrupt]
        applied = summary.last_applied  # written before its sidecar, which a crash may have lost
        if applied is not None and applied.corrupt and (date, applied.segment_id) not in found:
            found.append((date, applied.segment_id))
    return found


@dataclass(frozen=True)
class LossCounts:
    """A venue's recorded losses, and how many of each an operator has acknowledged."""

    missing: int = 0
    missing_acknowledged: int = 0
    corrupt: int = 0
    corrupt_acknowledged: int = 0
    queue_resets: int = 0
    queue_resets_acknowledged: int = 0

    @property
    def unacknowledged(self) -> int:
        return (
            self.missing
            - self.missing_acknowledged
            + self.corrupt
            - self.corrupt_acknowledged
            + self.queue_resets
            - self.queue_resets_acknowledged
        )
