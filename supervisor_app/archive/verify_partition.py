"""One partition verified: meta.json and a consistent listing, then every segment, one sidecar at a time."""

from __future__ import annotations

import os
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.archive.layout import META_FILE_NAME
from supervisor_app.archive.meta import (
    LegacyMeta,
    PartitionSummary,
    SegmentEntry,
    load_partition_meta,
    load_sidecar,
    segment_file_names,
    sidecar_name,
    sidecar_segment_id,
)
from supervisor_app.archive.verify_checks import summary_findings, symlink_finding, verify_segment
from supervisor_app.archive.verify_report import Finding, ProgressCounter, error_finding
from supervisor_app.errors import CorruptArchiveError

ARCHIVE_SUFFIXES = (".q", ".q.zst", ".q.zst.idx")
SNAPSHOT_ATTEMPTS = 3  # listings of a partition an archiver is writing, before its totals go unchecked
SIDECAR_BIT = 1 << len(ARCHIVE_SUFFIXES)


@dataclass(frozen=True)
class _Snapshot:
    """A partition's meta.json and directory listing, read while no archiver changed them."""

    meta: PartitionSummary | LegacyMeta | None
    meta_problem: Finding | None
    present: dict[int, int]  # segment id -> a bit per archive file present, then one for its sidecar
    strays: list[Path]  # archive-like names of no segment
    links: list[Path]  # symbolic links, never followed
    changed: bool  # meta.json kept changing while the directory was listed


def verify_partition(
    directory: Path, tracker: ProgressCounter, executor: Executor
) -> tuple[list[Finding], list[Finding], list[SegmentEntry]]:
    """(problems, warnings, entries of corrupt segments) of one partition; its sidecars are read one at a time."""
    snapshot = _snapshot(directory)
    meta_path = directory / META_FILE_NAME
    problems = [Finding(p, "archive file not recorded in any metadata") for p in snapshot.strays]
    problems += [symlink_finding(p) for p in snapshot.links]
    if snapshot.meta_problem is not None:
        problems.append(snapshot.meta_problem)
    if isinstance(snapshot.meta, LegacyMeta):
        return problems + _verify_legacy(directory, snapshot.meta, snapshot.present, tracker, executor), [], []
    summary, present = snapshot.meta, snapshot.present
    if summary is not None and summary.last_applied is not None:
        present.setdefault(summary.last_applied.segment_id, 0)
    tally = PartitionSummary(venue=summary.venue if summary else "", ingest_time_ns=0)  # of the sidecars
    corrupt = []
    for segment_id in sorted(present):
        entry, recorded_in, findings = _recorded_entry(directory, segment_id, present[segment_id], summary)
        problems += findings
        problems += _unrecorded_files(directory, segment_id, present[segment_id], entry, recorded_in)
        if entry is not None:
            problems += verify_segment(directory, entry, executor=executor, recorded_in=recorded_in)
            tally = tally.with_entry(entry, None)
            tracker.advance(entry)
            if entry.corrupt:
                corrupt.append(entry)
    if summary is None:
        return problems, [], corrupt
    if snapshot.changed:
        return (
            problems,
            [
                Finding(
                    meta_path,
                    "kept changing while verify listed the partition (an archiver is writing it): its totals were not checked; run verify again later",
                )
            ],
            corrupt,
        )
    return problems + summary_findings(meta_path, summary, tally), [], corrupt


def _snapshot(directory: Path) -> _Snapshot:
    """meta.json and the listing, consistent: meta.json read before and after the listing is the same."""
    before = _read_meta(directory / META_FILE_NAME)
    for _ in range(SNAPSHOT_ATTEMPTS):
        present, strays, links = _scan(directory)
        after = _read_meta(directory / META_FILE_NAME)
        if after == before:
            return _Snapshot(after[0], after[1], present, strays, links, changed=False)
        before = after
    return _Snapshot(after[0], after[1], present, strays, links, changed=True)


def _read_meta(path: Path) -> tuple[PartitionSummary | LegacyMeta | None, Finding | None]:
    try:
        meta = load_partition_meta(path)
    except CorruptArchiveError as exc:
        return None, error_finding(path, exc)
    return meta, (Finding(path, "missing") if meta is None else None)


def _verify_legacy(
    directory: Path, meta: LegacyMeta, present: dict[int, int], tracker: ProgressCounter, executor: Executor
) -> list[Finding]:
    """A v1 (or the reference's) meta.json, entries inline; sidecars there are a migration the archiver redoes."""
    problems = []
    entries = {e.segment_id: e for e in meta.entries}
    for segment_id in sorted(present.keys() | entries.keys()):
        entry = entries.get(segment_id)
        problems += _unrecorded_files(directory, segment_id, present.get(segment_id, 0), entry, META_FILE_NAME)
        if entry is not None:
            problems += verify_segment(directory, entry, executor=executor)
            tracker.advance(entry)
    return problems


def _recorded_entry(
    directory: Path, segment_id: int, bits: int, summary: PartitionSummary | None
) -> tuple[SegmentEntry | None, str, list[Finding]]:
    """The entry that records `segment_id`, where it is recorded, and what is wrong with that record."""
    path = directory / sidecar_name(segment_id)
    entry = None
    if bits & SIDECAR_BIT:
        try:
            entry = load_sidecar(path)
        except CorruptArchiveError as exc:
            return None, path.name, [error_finding(path, exc)]
    applied = summary.last_applied if summary is not None else None
    if applied is None or applied.segment_id != segment_id or entry == applied:
        return entry, path.name, []
    # meta.json is written first: a sidecar behind it is what a kill between the two leaves.
    state = "missing" if entry is None else "behind meta.json's last_applied entry"
    finding = Finding(path, f"{state} (a crash left it, or an archiver is running; the next archiver run writes it)")
    return applied, META_FILE_NAME, [finding]


def _unrecorded_files(
    directory: Path, segment_id: int, bits: int, entry: SegmentEntry | None, recorded_in: str
) -> list[Finding]:
    listed = {f.name for f in entry.files} if entry is not None else set()
    where = recorded_in if entry is not None else "any metadata"
    return [
        Finding(directory / name, f"archive file not recorded in {where}")
        for bit, name in enumerate(segment_file_names(segment_id))
        if bits & (1 << bit) and name not in listed
    ]


def _scan(directory: Path) -> tuple[dict[int, int], list[Path], list[Path]]:
    """Per segment id, a bit per archive file present (then one for its sidecar); archive-like names of no
    segment; and symbolic links (not counted as present: verify does not follow them)."""
    present: dict[int, int] = {}
    strays = []
    links = []
    with os.scandir(directory) as entries:
        for item in entries:
            name = item.name
            if item.is_symlink():
                links.append(directory / name)
                continue
            sidecar_id = sidecar_segment_id(name)
            if sidecar_id is not None:
                present[sidecar_id] = present.get(sidecar_id, 0) | SIDECAR_BIT
                continue
            if not name.endswith(ARCHIVE_SUFFIXES):
                continue
            segment_id = _archive_file_segment(name)
            if segment_id is None:
                strays.append(directory / name)
            else:
                bit = 1 << segment_file_names(segment_id).index(name)
                present[segment_id] = present.get(segment_id, 0) | bit
    return present, sorted(strays), sorted(links)


def _archive_file_segment(name: str) -> int | None:
    digits = name[:9]
    if not (digits.isascii() and digits.isdigit()):
        return None
    segment_id = int(digits)
    return segment_id if name in segment_file_names(segment_id) else None
