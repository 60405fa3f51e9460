"""What verify reports: findings, problems and warnings, recorded losses sorted by acknowledgement, progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.losses import Acknowledged, Acknowledgement, load_acknowledgements
from supervisor_app.archive.meta import SegmentEntry
from supervisor_app.archive.missing import MissingSegment, load_missing
from supervisor_app.archive.resets import QueueReset, load_resets
from supervisor_app.errors import CorruptArchiveError
from supervisor_app.timefmt import iso_utc


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or worth knowing) about one file (or object: its s3:// URL)."""

    path: Path | str
    message: str


@dataclass(frozen=True)
class VerifyProgress:
    segments_done: int
    segments_total: int
    bytes_done: int
    bytes_total: int


@dataclass(frozen=True)
class VerifyReport:
    segments: int
    raw_bytes: int
    problems: tuple[Finding, ...]  # unacknowledged losses among them
    warnings: tuple[Finding, ...]  # what could not be checked this time
    acknowledged: tuple[Finding, ...] = ()  # recorded losses an operator has acknowledged


@dataclass
class ProgressCounter:
    """Counts verified segments and reports them."""

    segments_total: int
    bytes_total: int
    callback: Callable[[VerifyProgress], None] | None
    segments_done: int = 0
    bytes_done: int = 0

    def advance(self, entry: SegmentEntry) -> None:
        self.segments_done += 1
        self.bytes_done += entry.raw_size
        if self.callback is not None:
            self.callback(VerifyProgress(self.segments_done, self.segments_total, self.bytes_done, self.bytes_total))


@dataclass
class Losses:
    """What verify found, with each recorded loss sorted by whether an operator has acknowledged it."""

    problems: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    acknowledged: list[Finding] = field(default_factory=list)

    def add(self, loss: Finding, ack: Acknowledgement | None) -> None:
        if ack is None:
            self.problems.append(loss)
            return
        reason = f": {ack.reason}" if ack.reason else ""
        by = f"acknowledged by {ack.by} at {iso_utc(ack.at_ns / 1e9)}{reason}"
        self.acknowledged.append(Finding(loss.path, f"{loss.message}; {by}"))

    def venue_records(self, layout: ArchiveLayout) -> Acknowledged:
        """Report the venue's missing segments and queue resets; return its acknowledgements for the rest."""
        acknowledged = self._read(layout.acknowledged_path, load_acknowledgements)
        covered = Acknowledged.of(acknowledged or [])
        missing = self._read(layout.missing_segments_path, load_missing) or []
        resets = self._read(layout.queue_resets_path, load_resets) or []
        self.report_records(covered, missing, layout.missing_segments_path, resets, layout.queue_resets_path)
        return covered

    def report_records(
        self,
        covered: Acknowledged,
        missing: list[MissingSegment],
        missing_at: Path | str,
        resets: list[QueueReset],
        resets_at: Path | str,
    ) -> None:
        """Each lost segment and queue reset a venue records: a problem, unless acknowledged."""
        for loss in missing:
            when = iso_utc(loss.detected_at_ns / 1e9)
            message = f"segment {loss.segment_id} was lost: {loss.reason} (detected {when})"
            self.add(Finding(missing_at, message), covered.missing(loss))
        for reset in resets:
            message = (
                f"the queue {reset.source} restarted its segment ids (detected {iso_utc(reset.detected_at_ns / 1e9)}):"
                f" it held segments {reset.oldest_segment}-{reset.newest_segment}, all below the archiver's position"
                f" {reset.previous_position}; archiving went on from {reset.oldest_segment}, and what the new queue"
                " lost before that is not recorded"
            )
            self.add(Finding(resets_at, message), covered.reset(reset))

    def _read(self, path: Path, reader: Callable[[Path], list[Any]]) -> list[Any] | None:
        try:
            return reader(path)
        except CorruptArchiveError as exc:
            self.problems.append(error_finding(path, exc))
            return None


def error_finding(path: Path, error: CorruptArchiveError) -> Finding:
    """A finding for `path` from an error whose message already starts with it."""
    message = str(error)
    prefix = f"{path}: "
    return Finding(path, message[len(prefix) :] if message.startswith(prefix) else message)
