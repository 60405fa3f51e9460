"""Checks of one archived segment's files against its entry, and of meta.json's totals against its sidecars."""

from __future__ import annotations

import os
from concurrent.futures import Executor
from pathlib import Path

from supervisor_app.archive.checksums import Digest, decoded_digest, file_digest
from supervisor_app.archive.layout import META_FILE_NAME
from supervisor_app.archive.meta import PartitionSummary, SegmentEntry
from supervisor_app.archive.seekable_zstd import read_index
from supervisor_app.archive.verify_report import Finding
from supervisor_app.errors import CorruptArchiveError


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


def symlink_finding(path: Path) -> Finding:
    return Finding(
        path,
        f"symbolic link (to {os.readlink(path)}): an archive holds only real files and directories, "
        "and verify does not follow links",
    )
