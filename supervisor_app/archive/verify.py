"""Check an archive against its meta.json entries, without the source queue."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.archive.checksums import Digest, decoded_digest, file_digest
from supervisor_app.archive.layout import LAYOUT_VERSION, ArchiveLayout
from supervisor_app.archive.meta import PartitionMeta, SegmentEntry, load_meta
from supervisor_app.archive.missing import load_missing
from supervisor_app.archive.seekable_zstd import read_index
from supervisor_app.durable import TMP_SUFFIX
from supervisor_app.errors import CorruptArchiveError

ARCHIVE_SUFFIXES = (".q", ".q.zst", ".q.zst.idx")


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or worth knowing) about one file."""

    path: Path
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
    problems: tuple[Finding, ...]
    warnings: tuple[Finding, ...]  # segments recorded as lost before archiving


@dataclass(frozen=True)
class _Partition:
    directory: Path
    meta: PartitionMeta | None


def verify_archive(
    root: Path,
    *,
    venue: str | None = None,
    date: str | None = None,
    progress: Callable[[VerifyProgress], None] | None = None,
) -> VerifyReport:
    """Verify every archived segment under `root` (optionally one venue, one date)."""
    problems: list[Finding] = []
    warnings: list[Finding] = []
    partitions: list[_Partition] = []
    for layout in _venues(root, venue, problems):
        problems += _stray_tmp_files(layout.venue_dir) + _stray_tmp_files(layout.staging_dir)
        lost, unreadable = _missing_segments(layout)
        warnings += lost
        problems += unreadable
        for directory in layout.partition_dirs():
            if date is None or directory.parent.name == date:
                partitions.append(_load_partition(directory, problems))
    entries = [(p.directory, e) for p in partitions if p.meta for e in p.meta.segments]
    total = VerifyProgress(0, len(entries), 0, sum(e.raw_size for _, e in entries))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="verify") as executor:
        for partition in partitions:
            problems += _stray_tmp_files(partition.directory)
            problems += _unrecorded_files(partition)
        done = VerifyProgress(0, total.segments_total, 0, total.bytes_total)
        for directory, entry in entries:
            problems += verify_segment(directory, entry, executor=executor)
            done = VerifyProgress(
                done.segments_done + 1, done.segments_total, done.bytes_done + entry.raw_size, done.bytes_total
            )
            if progress is not None:
                progress(done)
    return VerifyReport(len(entries), total.bytes_total, tuple(problems), tuple(warnings))


def verify_segment(directory: Path, entry: SegmentEntry, *, executor: Executor | None = None) -> list[Finding]:
    """Every file of the entry present at its size, and every copy decoding to the recorded checksum."""
    expected = Digest(entry.raw_size, entry.raw_crc32)
    findings = []
    names = {f.name for f in entry.files}
    for archived in entry.files:
        path = directory / archived.name
        if not path.is_file():
            findings.append(Finding(path, "listed in meta.json but missing"))
        elif path.stat().st_size != archived.size:
            findings.append(Finding(path, f"is {path.stat().st_size} bytes, meta.json says {archived.size}"))
    if findings:
        return findings
    try:
        for name in sorted(names):
            path = directory / name
            if name.endswith(".q"):
                findings += _digest_finding(path, file_digest(path), expected)
            elif name.endswith(".q.zst"):
                if name + ".idx" not in names:
                    findings.append(Finding(path, "has no .idx listed in meta.json"))
                    continue
                index = read_index(directory / (name + ".idx"))
                findings += _digest_finding(path, decoded_digest(path, index, executor=executor), expected)
    except CorruptArchiveError as exc:
        findings.append(Finding(directory / f"{entry.segment_id:09d}.q.zst", str(exc)))
    return findings


def _digest_finding(path: Path, actual: Digest, expected: Digest) -> list[Finding]:
    if actual == expected:
        return []
    return [
        Finding(
            path,
            f"decodes to {actual.size} bytes with CRC-32 {actual.crc32:08x}; meta.json records {expected.size} bytes with {expected.crc32:08x}",
        )
    ]


def _missing_segments(layout: ArchiveLayout) -> tuple[list[Finding], list[Finding]]:
    """(one warning per segment lost before archiving, the problem if the record is unreadable)."""
    path = layout.missing_segments_path
    try:
        missing = load_missing(path)
    except CorruptArchiveError as exc:
        return [], [Finding(path, str(exc))]
    return [
        Finding(path, f"segment {m.segment_id} was deleted from the source before it was archived") for m in missing
    ], []


def _venues(root: Path, venue: str | None, problems: list[Finding]) -> Iterator[ArchiveLayout]:
    base = root / "raw" / LAYOUT_VERSION
    if venue is not None:
        layout = ArchiveLayout(root, venue)
        if not layout.venue_dir.is_dir():
            problems.append(Finding(layout.venue_dir, f"no archive for venue {venue!r}"))
            return
        yield layout
        return
    if not base.is_dir():
        problems.append(Finding(base, "no raw archive here"))
        return
    for directory in sorted(p for p in base.iterdir() if p.is_dir()):
        yield ArchiveLayout(root, directory.name)


def _load_partition(directory: Path, problems: list[Finding]) -> _Partition:
    meta_path = directory / "meta.json"
    try:
        meta = load_meta(meta_path)
    except CorruptArchiveError as exc:
        problems.append(Finding(meta_path, str(exc)))
        return _Partition(directory, None)
    if meta is None:
        problems.append(Finding(meta_path, "missing"))
    return _Partition(directory, meta)


def _stray_tmp_files(directory: Path) -> list[Finding]:
    if not directory.is_dir():
        return []
    return [
        Finding(p, "stray temp file (a crash left it, or an archiver is running)")
        for p in sorted(directory.glob("*" + TMP_SUFFIX))
    ]


def _unrecorded_files(partition: _Partition) -> list[Finding]:
    recorded = {f.name for e in partition.meta.segments for f in e.files} if partition.meta else set()
    return [
        Finding(p, "archive file not recorded in meta.json")
        for p in sorted(partition.directory.iterdir())
        if p.name.endswith(ARCHIVE_SUFFIXES) and p.name not in recorded
    ]
