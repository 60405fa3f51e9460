"""Check an archive against its metadata, without the source queue, one sidecar at a time.

This module walks the venues and their partitions; `verify_partition` checks one partition,
`verify_checks` one segment's files, and `verify_report` holds what is found (its names are
importable from here too).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from supervisor_app.archive.layout import LAYOUT_VERSION, META_FILE_NAME, ArchiveLayout
from supervisor_app.archive.losses import Acknowledged
from supervisor_app.archive.meta import (
    PartitionSummary,
    SegmentEntry,
    current_summary,
    load_sidecar,
    sidecar_ids,
    sidecar_name,
)
from supervisor_app.archive.resets import load_resets
from supervisor_app.archive.reused_ids import Span, reused_ids
from supervisor_app.archive.verify_checks import summary_findings, symlink_finding, verify_segment
from supervisor_app.archive.verify_partition import ARCHIVE_SUFFIXES, SNAPSHOT_ATTEMPTS, verify_partition
from supervisor_app.archive.verify_report import Finding, Losses, ProgressCounter, VerifyProgress, VerifyReport
from supervisor_app.durable import TMP_SUFFIX
from supervisor_app.errors import CorruptArchiveError

__all__ = [
    "ARCHIVE_SUFFIXES",
    "SNAPSHOT_ATTEMPTS",
    "Finding",
    "Losses",
    "VerifyProgress",
    "VerifyReport",
    "summary_findings",
    "verify_archive",
    "verify_segment",
]


def verify_archive(
    root: Path,
    *,
    venue: str | None = None,
    date: str | None = None,
    progress: Callable[[VerifyProgress], None] | None = None,
) -> VerifyReport:
    """Verify every archived segment under `root` (optionally one venue, one date), and report recorded losses."""
    losses = Losses()
    partitions: list[tuple[Path, Acknowledged, PartitionSummary | None]] = []
    layouts = list(_venues(root, venue, losses.problems))
    for layout in layouts:
        losses.problems += _venue_symlinks(layout)
        losses.problems += _stray_tmp_files(layout.venue_dir) + _stray_tmp_files(layout.staging_dir)
        acknowledged = losses.venue_records(layout)
        chosen = {d: _summary(d) for d in layout.partition_dirs() if date is None or d.parent.name == date}
        partitions += [(d, acknowledged, summary) for d, summary in chosen.items()]
        losses.warnings += _reused_id_warnings(layout, chosen)
    if layouts and date is not None and not partitions:
        # Verifying nothing of what was asked for is a problem, not a pass.
        where = layouts[0].venue_dir if venue is not None else root / "raw" / LAYOUT_VERSION
        losses.problems.append(Finding(where, f"no partition dated {date}"))
    # meta.json's counts, for progress only: problems are reported when each partition is verified.
    summaries = [summary for _, _, summary in partitions if summary is not None]
    tracker = ProgressCounter(sum(s.segment_count for s in summaries), sum(s.raw_bytes for s in summaries), progress)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="verify") as executor:
        for directory, acknowledged, _ in partitions:
            losses.problems += _stray_tmp_files(directory)
            found, noted, corrupt = verify_partition(directory, tracker, executor)
            losses.problems += found
            losses.warnings += noted
            for entry in corrupt:
                finding = Finding(
                    directory / sidecar_name(entry.segment_id),
                    f"segment {entry.segment_id} was corrupt in the source queue: {entry.findings_text()}; "
                    "archived as it was",
                )
                losses.add(finding, acknowledged.corrupt(directory.parent.name, entry.segment_id))
    if not tracker.segments_done and not losses.problems:
        where = ArchiveLayout(root, venue).venue_dir if venue is not None else root / "raw" / LAYOUT_VERSION
        losses.problems.append(Finding(where, "no archived segment to verify"))
    return VerifyReport(
        tracker.segments_done,
        tracker.bytes_done,
        tuple(losses.problems),
        tuple(losses.warnings),
        tuple(losses.acknowledged),
    )


def _venues(root: Path, venue: str | None, problems: list[Finding]) -> Iterator[ArchiveLayout]:
    """The venues to verify; symbolic links on the way are reported, never followed."""
    base = root / "raw" / LAYOUT_VERSION
    links = [p for p in (root / "raw", base) if p.is_symlink()]
    if links:
        problems.append(symlink_finding(links[0]))
        return
    if venue is not None:
        layout = ArchiveLayout(root, venue)
        if layout.venue_dir.is_symlink():
            problems.append(symlink_finding(layout.venue_dir))
        elif not layout.venue_dir.is_dir():
            problems.append(Finding(layout.venue_dir, f"no archive for venue {venue!r}"))
        else:
            yield layout
        return
    if not base.is_dir():
        problems.append(Finding(base, "no raw archive here"))
        return
    for directory in sorted(base.iterdir()):
        if directory.is_symlink():
            problems.append(symlink_finding(directory))
        elif directory.is_dir():
            yield ArchiveLayout(root, directory.name)


def _venue_symlinks(layout: ArchiveLayout) -> list[Finding]:
    """Links in the venue directory and where its partitions would be (`<date>/raw`): never followed."""
    found = []
    for entry in sorted(layout.venue_dir.iterdir()):
        if entry.is_symlink():
            found.append(symlink_finding(entry))
        elif entry.is_dir() and (entry / "raw").is_symlink():
            found.append(symlink_finding(entry / "raw"))
    return found


def _reused_id_warnings(layout: ArchiveLayout, partitions: dict[Path, PartitionSummary | None]) -> list[Finding]:
    """Segment ids archived in two of these partitions with other bytes (see reused_ids)."""
    by_date = {d.parent.name: d for d in partitions}
    spans = [
        Span(d.parent.name, s.first_segment_id, s.last_segment_id)
        for d, s in partitions.items()
        if s is not None and s.first_segment_id is not None and s.last_segment_id is not None
    ]
    try:
        resets = load_resets(layout.queue_resets_path)
    except CorruptArchiveError:
        resets = []  # its damage is reported with the venue's records; without it, every reuse is reported
    found = reused_ids(
        spans,
        ids_of=lambda date: sidecar_ids(by_date[date]),
        entry_of=lambda date, segment_id: _sidecar(by_date[date] / sidecar_name(segment_id)),
        resets=resets,
    )
    return [Finding(by_date[r.later.date] / sidecar_name(r.segment_id), r.message()) for r in found]


def _summary(directory: Path) -> PartitionSummary | None:
    try:
        return current_summary(directory / META_FILE_NAME)
    except CorruptArchiveError:
        return None  # reported when the partition is verified


def _sidecar(path: Path) -> SegmentEntry | None:
    try:
        return load_sidecar(path)
    except CorruptArchiveError:
        return None  # reported when its partition is verified


def _stray_tmp_files(directory: Path) -> list[Finding]:
    if not directory.is_dir():
        return []
    return [
        Finding(p, "stray temp file (a crash left it, or an archiver is running)")
        for p in sorted(directory.glob("*" + TMP_SUFFIX))
    ]
