"""Check an archive against its metadata, without the source queue, one sidecar at a time."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor_app.archive.checksums import Digest, decoded_digest, file_digest
from supervisor_app.archive.layout import LAYOUT_VERSION, META_FILE_NAME, ArchiveLayout
from supervisor_app.archive.losses import Acknowledged, Acknowledgement, load_acknowledgements
from supervisor_app.archive.meta import (
    LegacyMeta,
    PartitionSummary,
    SegmentEntry,
    current_summary,
    load_partition_meta,
    load_sidecar,
    segment_file_names,
    sidecar_name,
    sidecar_segment_id,
)
from supervisor_app.archive.missing import MissingSegment, load_missing
from supervisor_app.archive.resets import QueueReset, load_resets
from supervisor_app.archive.seekable_zstd import read_index
from supervisor_app.durable import TMP_SUFFIX
from supervisor_app.errors import CorruptArchiveError
from supervisor_app.timefmt import iso_utc

ARCHIVE_SUFFIXES = (".q", ".q.zst", ".q.zst.idx")
SNAPSHOT_ATTEMPTS = 3  # listings of a partition an archiver is writing, before its totals go unchecked
_SIDECAR_BIT = 1 << len(ARCHIVE_SUFFIXES)


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


@dataclass(frozen=True)
class _Snapshot:
    """A partition's meta.json and directory listing, read while no archiver changed them."""

    meta: PartitionSummary | LegacyMeta | None
    meta_problem: Finding | None
    present: dict[int, int]  # segment id -> a bit per archive file present, then one for its sidecar
    strays: list[Path]  # archive-like names of no segment
    links: list[Path]  # symbolic links, never followed
    changed: bool  # meta.json kept changing while the directory was listed


@dataclass
class _Progress:
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


def verify_archive(
    root: Path,
    *,
    venue: str | None = None,
    date: str | None = None,
    progress: Callable[[VerifyProgress], None] | None = None,
) -> VerifyReport:
    """Verify every archived segment under `root` (optionally one venue, one date), and report recorded losses."""
    losses = Losses()
    partitions: list[tuple[Path, Acknowledged]] = []
    layouts = list(_venues(root, venue, losses.problems))
    for layout in layouts:
        losses.problems += _venue_symlinks(layout)
        losses.problems += _stray_tmp_files(layout.venue_dir) + _stray_tmp_files(layout.staging_dir)
        acknowledged = losses.venue_records(layout)
        partitions += [(d, acknowledged) for d in layout.partition_dirs() if date is None or d.parent.name == date]
    if layouts and date is not None and not partitions:
        # Verifying nothing of what was asked for is a problem, not a pass.
        where = layouts[0].venue_dir if venue is not None else root / "raw" / LAYOUT_VERSION
        losses.problems.append(Finding(where, f"no partition dated {date}"))
    totals = [_expected_totals(d) for d, _ in partitions]
    tracker = _Progress(sum(t[0] for t in totals), sum(t[1] for t in totals), progress)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="verify") as executor:
        for directory, acknowledged in partitions:
            losses.problems += _stray_tmp_files(directory)
            found, noted, corrupt = _verify_partition(directory, tracker, executor)
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
            self.problems.append(_finding(path, exc))
            return None


def verify_segment(
    directory: Path, entry: SegmentEntry, *, executor: Executor | None = None, recorded_in: str = META_FILE_NAME
) -> list[Finding]:
    """Every file of the entry present at its size, and every copy decoding to the recorded checksum."""
    expected = Digest(entry.raw_size, entry.raw_crc32)
    findings = []
    names = {f.name for f in entry.files}
    for archived in entry.files:
        path = directory / archived.name
        if path.is_symlink():
            findings.append(Finding(path, f"listed in {recorded_in} but a symbolic link: not verified"))
        elif not path.is_file():
            findings.append(Finding(path, f"listed in {recorded_in} but missing"))
        elif path.stat().st_size != archived.size:
            findings.append(Finding(path, f"is {path.stat().st_size} bytes, {recorded_in} says {archived.size}"))
    if findings:
        return findings
    try:
        for name in sorted(names):
            path = directory / name
            if name.endswith(".q"):
                findings += _digest_finding(path, file_digest(path), expected, recorded_in)
            elif name.endswith(".q.zst"):
                if name + ".idx" not in names:
                    findings.append(Finding(path, f"has no .idx listed in {recorded_in}"))
                    continue
                index = read_index(directory / (name + ".idx"))
                findings += _digest_finding(path, decoded_digest(path, index, executor=executor), expected, recorded_in)
    except CorruptArchiveError as exc:
        findings.append(Finding(directory / f"{entry.segment_id:09d}.q.zst", str(exc)))
    return findings


def _digest_finding(path: Path, actual: Digest, expected: Digest, recorded_in: str) -> list[Finding]:
    if actual == expected:
        return []
    return [
        Finding(
            path,
            f"decodes to {actual.size} bytes with CRC-32 {actual.crc32:08x}; {recorded_in} records {expected.size} bytes with {expected.crc32:08x}",
        )
    ]


def _venues(root: Path, venue: str | None, problems: list[Finding]) -> Iterator[ArchiveLayout]:
    """The venues to verify; symbolic links on the way are reported, never followed."""
    base = root / "raw" / LAYOUT_VERSION
    links = [p for p in (root / "raw", base) if p.is_symlink()]
    if links:
        problems.append(_symlink(links[0]))
        return
    if venue is not None:
        layout = ArchiveLayout(root, venue)
        if layout.venue_dir.is_symlink():
            problems.append(_symlink(layout.venue_dir))
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
            problems.append(_symlink(directory))
        elif directory.is_dir():
            yield ArchiveLayout(root, directory.name)


def _venue_symlinks(layout: ArchiveLayout) -> list[Finding]:
    """Links in the venue directory and where its partitions would be (`<date>/raw`): never followed."""
    found = []
    for entry in sorted(layout.venue_dir.iterdir()):
        if entry.is_symlink():
            found.append(_symlink(entry))
        elif entry.is_dir() and (entry / "raw").is_symlink():
            found.append(_symlink(entry / "raw"))
    return found


def _symlink(path: Path) -> Finding:
    return Finding(
        path,
        f"symbolic link (to {os.readlink(path)}): an archive holds only real files and directories, "
        "and verify does not follow links",
    )


def _expected_totals(directory: Path) -> tuple[int, int]:
    """(segments, raw bytes) meta.json counts, for progress only: problems are reported when verified."""
    try:
        summary = current_summary(directory / META_FILE_NAME)
    except CorruptArchiveError:
        return 0, 0
    return (0, 0) if summary is None else (summary.segment_count, summary.raw_bytes)


def _verify_partition(
    directory: Path, tracker: _Progress, executor: Executor
) -> tuple[list[Finding], list[Finding], list[SegmentEntry]]:
    """(problems, warnings, entries of corrupt segments) of one partition; its sidecars are read one at a time."""
    snapshot = _snapshot(directory)
    meta_path = directory / META_FILE_NAME
    problems = [Finding(p, "archive file not recorded in any metadata") for p in snapshot.strays]
    problems += [_symlink(p) for p in snapshot.links]
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
        return None, _finding(path, exc)
    return meta, (Finding(path, "missing") if meta is None else None)


def _verify_legacy(
    directory: Path, meta: LegacyMeta, present: dict[int, int], tracker: _Progress, executor: Executor
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
    if bits & _SIDECAR_BIT:
        try:
            entry = load_sidecar(path)
        except CorruptArchiveError as exc:
            return None, path.name, [_finding(path, exc)]
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


def summary_findings(meta_path: Path | str, summary: PartitionSummary, tally: PartitionSummary) -> list[Finding]:
    """Where meta.json's aggregates disagree with the entries its sidecars hold."""
    findings = [
        Finding(meta_path, f"says {name} {said}, its sidecars add up to {found}")
        for name, said, found in (
            ("segment_count", summary.segment_count, tally.segment_count),
            ("raw_bytes", summary.raw_bytes, tally.raw_bytes),
            ("stored_bytes", summary.stored_bytes, tally.stored_bytes),
            ("first_segment_id", summary.first_segment_id, tally.first_segment_id),
            ("last_segment_id", summary.last_segment_id, tally.last_segment_id),
            ("corrupt_segment_count", summary.corrupt_segment_count, tally.corrupt_segment_count),
            ("archive_ms_buckets", list(summary.archive_ms_buckets), list(tally.archive_ms_buckets)),
        )
        if said != found
    ]
    said_range, found_range = summary.event_time_range, tally.event_time_range
    if found_range is not None and (
        said_range is None or said_range[0] > found_range[0] or said_range[1] < found_range[1]
    ):
        findings.append(Finding(meta_path, f"event_time_range {said_range} does not cover its sidecars' {found_range}"))
    return findings


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
                present[sidecar_id] = present.get(sidecar_id, 0) | _SIDECAR_BIT
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


def _finding(path: Path, error: CorruptArchiveError) -> Finding:
    """A finding for `path` from an error whose message already starts with it."""
    message = str(error)
    prefix = f"{path}: "
    return Finding(path, message[len(prefix) :] if message.startswith(prefix) else message)


def _stray_tmp_files(directory: Path) -> list[Finding]:
    if not directory.is_dir():
        return []
    return [
        Finding(p, "stray temp file (a crash left it, or an archiver is running)")
        for p in sorted(directory.glob("*" + TMP_SUFFIX))
    ]
