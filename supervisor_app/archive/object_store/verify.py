"""`verify` of an archive in an object store: every object against its sidecar, every meta.json against its sidecars.

The checks are the local verify's (archive/verify.py), read through the store: listings
for directories, streaming GETs for files. Multipart uploads never completed under a
venue are the store's stray temp files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from supervisor_app.archive.checksums import Digest
from supervisor_app.archive.layout import LAYOUT_VERSION, META_FILE_NAME
from supervisor_app.archive.losses import Acknowledged, acknowledgements_from_json
from supervisor_app.archive.meta import (
    LegacyMeta,
    PartitionSummary,
    SegmentEntry,
    partition_meta_from_json,
    segment_file_names,
    sidecar_from_json,
    sidecar_name,
    sidecar_segment_id,
)
from supervisor_app.archive.metadata_files import MAX_META_BYTES, MAX_SIDECAR_BYTES, parse_json
from supervisor_app.archive.missing import missing_from_json
from supervisor_app.archive.object_store.client import S3Client
from supervisor_app.archive.object_store.frames import decode_stream
from supervisor_app.archive.object_store.layout import ObjectLayout, partition_date_of
from supervisor_app.archive.object_store.reused_ids import reused_id_warnings
from supervisor_app.archive.object_store.wire import iter_body
from supervisor_app.archive.resets import resets_from_json
from supervisor_app.archive.seekable_zstd import SeekIndex
from supervisor_app.archive.verify import Finding, Losses, VerifyProgress, VerifyReport, summary_findings
from supervisor_app.archive.verify_report import ProgressCounter
from supervisor_app.chronicle.records import crc32
from supervisor_app.errors import CorruptArchiveError

SNAPSHOT_ATTEMPTS = 3  # listings of a partition an archiver is writing, before its totals go unchecked
SEGMENTS_AT_ONCE = 4  # checked in parallel, each streaming one object at a time
_SIDECAR_BIT = 1 << 3


@dataclass(frozen=True)
class _Meta:
    """A partition's meta.json as read: its content or what is wrong with it, and its ETag."""

    meta: PartitionSummary | LegacyMeta | None
    problem: Finding | None
    etag: str | None


def verify_object_archive(
    client: S3Client,
    *,
    venue: str | None = None,
    date: str | None = None,
    progress: Callable[[VerifyProgress], None] | None = None,
) -> VerifyReport:
    """Verify every archived segment under the client's root (optionally one venue, one date), and report losses."""
    losses = Losses()
    partitions: list[tuple[ObjectLayout, dt.date, Acknowledged]] = []
    layouts = list(_venues(client, venue, losses.problems))
    for layout in layouts:
        losses.problems += _unfinished_uploads(client, layout)
        covered = _venue_records(client, layout, losses)
        partitions += [
            (layout, d, covered) for d in _partition_dates(client, layout) if date is None or d.isoformat() == date
        ]
    if layouts and date is not None and not partitions:
        # Verifying nothing of what was asked for is a problem, not a pass.
        where = layouts[0].venue_prefix if venue is not None else layouts[0].layout_prefix
        losses.problems.append(Finding(client.url_of(where), f"no partition dated {date}"))
    metas = [_read_meta(client, layout.meta_key(d)) for layout, d, _ in partitions]
    summaries = [_summary_of(m.meta) for m in metas]
    for layout in layouts:
        chosen = [(d, s) for (lay, d, _), s in zip(partitions, summaries, strict=True) if lay is layout]
        losses.warnings += reused_id_warnings(client, layout, chosen)
    tracker = ProgressCounter(
        sum(s.segment_count for s in summaries if s), sum(s.raw_bytes for s in summaries if s), progress
    )
    with ThreadPoolExecutor(max_workers=SEGMENTS_AT_ONCE, thread_name_prefix="verify") as pool:
        for (layout, day, covered), meta in zip(partitions, metas, strict=True):
            prefix = layout.partition_prefix(day)
            found, noted, corrupt = _verify_partition(client, prefix, meta, tracker, pool)
            losses.problems += found
            losses.warnings += noted
            for entry in corrupt:
                finding = Finding(
                    client.url_of(prefix + sidecar_name(entry.segment_id)),
                    f"segment {entry.segment_id} was corrupt in the source queue: {entry.findings_text()}; "
                    "archived as it was",
                )
                losses.add(finding, covered.corrupt(day.isoformat(), entry.segment_id))
    if not tracker.segments_done and not losses.problems:
        where = ObjectLayout(client.root, venue).venue_prefix if venue is not None else _layout_prefix(client)
        losses.problems.append(Finding(client.url_of(where), "no archived segment to verify"))
    return VerifyReport(
        tracker.segments_done,
        tracker.bytes_done,
        tuple(losses.problems),
        tuple(losses.warnings),
        tuple(losses.acknowledged),
    )


def verify_object_segment(
    client: S3Client, prefix: str, entry: SegmentEntry, sizes: dict[str, int], recorded_in: str
) -> list[Finding]:
    """Every object of the entry present at its size, and every copy decoding to the recorded checksum."""
    expected = Digest(entry.raw_size, entry.raw_crc32)
    findings = []
    names = {f.name for f in entry.files}
    for archived in entry.files:
        url = client.url_of(prefix + archived.name)
        if archived.name not in sizes:
            findings.append(Finding(url, f"listed in {recorded_in} but missing"))
        elif sizes[archived.name] != archived.size:
            findings.append(Finding(url, f"is {sizes[archived.name]} bytes, {recorded_in} says {archived.size}"))
    if findings:
        return findings
    for name in sorted(names):
        url = client.url_of(prefix + name)
        try:
            if name.endswith(".q"):
                actual = _digest(_chunks(client, prefix + name))
            elif name.endswith(".q.zst"):
                if name + ".idx" not in names:
                    findings.append(Finding(url, f"has no .idx listed in {recorded_in}"))
                    continue
                index = _index(client, prefix + name + ".idx")
                actual = _digest(decode_stream(_chunks(client, prefix + name), index, source=url, size=sizes[name]))
            else:
                continue
        except CorruptArchiveError as exc:
            findings.append(Finding(url, _without_source(str(exc), url)))
            continue
        if actual != expected:
            findings.append(
                Finding(
                    url,
                    f"decodes to {actual.size} bytes with CRC-32 {actual.crc32:08x}; {recorded_in} records"
                    f" {expected.size} bytes with {expected.crc32:08x}",
                )
            )
    return findings


def _venues(client: S3Client, venue: str | None, problems: list[Finding]) -> Iterator[ObjectLayout]:
    root = client.root
    if venue is not None:
        layout = ObjectLayout(root, venue)
        listing = client.list_objects(layout.venue_prefix)
        if not listing.objects and not listing.prefixes:
            problems.append(Finding(client.url_of(layout.venue_prefix), f"no archive for venue {venue!r}"))
            return
        yield layout
        return
    base = _layout_prefix(client)
    names = sorted(p[len(base) :].rstrip("/") for p in client.list_objects(base).prefixes)
    if not names:
        problems.append(Finding(client.url_of(base), "no raw archive here"))
    for name in names:
        yield ObjectLayout(root, name)


def _unfinished_uploads(client: S3Client, layout: ObjectLayout) -> list[Finding]:
    return [
        Finding(
            client.url_of(upload.key),
            f"a multipart upload started {upload.initiated or 'at an unknown time'} was never completed nor aborted"
            " (a crash left it, or an archiver is uploading it now; the next archiver start aborts it)",
        )
        for upload in client.list_uploads(layout.venue_prefix)
    ]


def _venue_records(client: S3Client, layout: ObjectLayout, losses: Losses) -> Acknowledged:
    """Report the venue's lost segments and queue resets (unless acknowledged); return its acknowledgements."""
    acknowledged = _read_record(client, layout.acknowledged_key, acknowledgements_from_json, losses) or []
    covered = Acknowledged.of(acknowledged)
    missing = _read_record(client, layout.missing_segments_key, missing_from_json, losses) or []
    resets = _read_record(client, layout.queue_resets_key, resets_from_json, losses) or []
    losses.report_records(
        covered,
        missing,
        client.url_of(layout.missing_segments_key),
        resets,
        client.url_of(layout.queue_resets_key),
    )
    return covered


def _read_record(
    client: S3Client, key: str, parse: Callable[[Any, str], list[Any]], losses: Losses
) -> list[Any] | None:
    """A venue-level record (empty if absent); a damaged one is a problem, and None."""
    url = client.url_of(key)
    found = client.get(key, max_bytes=MAX_META_BYTES + 1)
    if found is None:
        return []
    try:
        return parse(parse_json(found[0], url, MAX_META_BYTES), url)
    except CorruptArchiveError as exc:
        losses.problems.append(Finding(url, _without_source(str(exc), url)))
        return None


def _layout_prefix(client: S3Client) -> str:
    return client.root.key("raw", LAYOUT_VERSION) + "/"


def _partition_dates(client: S3Client, layout: ObjectLayout) -> list[dt.date]:
    dates = (partition_date_of(p, layout.venue_prefix) for p in client.list_objects(layout.venue_prefix).prefixes)
    return sorted(d for d in dates if d is not None)


def _read_meta(client: S3Client, key: str) -> _Meta:
    url = client.url_of(key)
    found = client.get(key, max_bytes=MAX_META_BYTES + 1)
    if found is None:
        return _Meta(None, Finding(url, "missing"), None)
    data, etag = found
    try:
        return _Meta(partition_meta_from_json(parse_json(data, url, MAX_META_BYTES), url), None, etag)
    except CorruptArchiveError as exc:
        return _Meta(None, Finding(url, _without_source(str(exc), url)), etag)


def _summary_of(meta: PartitionSummary | LegacyMeta | None) -> PartitionSummary | None:
    return meta.summary() if isinstance(meta, LegacyMeta) else meta


def _verify_partition(
    client: S3Client, prefix: str, meta: _Meta, tracker: ProgressCounter, pool: Executor
) -> tuple[list[Finding], list[Finding], list[SegmentEntry]]:
    """(problems, warnings, entries of segments archived corrupt) of one partition; its sidecars read one at a time."""
    meta_url = client.url_of(prefix + META_FILE_NAME)
    changed = True
    for _ in range(SNAPSHOT_ATTEMPTS):
        sizes = {o.key[len(prefix) :]: o.size for o in client.list_objects(prefix).objects}
        after = _read_meta(client, prefix + META_FILE_NAME)
        if after.etag == meta.etag:
            changed = False
            break
        meta = after
    present, strays = _present(sizes)
    problems = [Finding(client.url_of(prefix + name), "archive object not recorded in any metadata") for name in strays]
    if meta.problem is not None:
        problems.append(meta.problem)
    checked: list[tuple[SegmentEntry, str]] = []
    if isinstance(meta.meta, LegacyMeta):
        entries = {e.segment_id: e for e in meta.meta.entries}
        for segment_id in sorted(present.keys() | entries.keys()):
            entry = entries.get(segment_id)
            problems += _unrecorded(client, prefix, segment_id, present.get(segment_id, 0), entry, META_FILE_NAME)
            if entry is not None:
                checked.append((entry, META_FILE_NAME))
        problems += _check_segments(client, prefix, checked, sizes, tracker, pool)
        return problems, [], _corrupt(checked)
    summary = meta.meta
    if summary is not None and summary.last_applied is not None:
        present.setdefault(summary.last_applied.segment_id, 0)
    for segment_id in sorted(present):
        entry, recorded_in, findings = _recorded_entry(client, prefix, segment_id, present[segment_id], summary)
        problems += findings
        problems += _unrecorded(client, prefix, segment_id, present[segment_id], entry, recorded_in)
        if entry is not None:
            checked.append((entry, recorded_in))
    problems += _check_segments(client, prefix, checked, sizes, tracker, pool)
    if summary is None:
        return problems, [], _corrupt(checked)
    if changed:
        note = "kept changing while verify listed the partition (an archiver is writing it): its totals were not checked; run verify again later"
        return problems, [Finding(meta_url, note)], _corrupt(checked)
    tally = PartitionSummary(venue=summary.venue, ingest_time_ns=0)
    for entry, _ in checked:
        tally = tally.with_entry(entry, None)
    return problems + summary_findings(meta_url, summary, tally), [], _corrupt(checked)


def _corrupt(checked: list[tuple[SegmentEntry, str]]) -> list[SegmentEntry]:
    return [entry for entry, _ in checked if entry.corrupt]


def _check_segments(
    client: S3Client,
    prefix: str,
    checked: list[tuple[SegmentEntry, str]],
    sizes: dict[str, int],
    tracker: ProgressCounter,
    pool: Executor,
) -> list[Finding]:
    problems: list[Finding] = []
    results = pool.map(lambda item: verify_object_segment(client, prefix, item[0], sizes, item[1]), checked)
    for (entry, _), findings in zip(checked, results, strict=True):
        problems += findings
        tracker.advance(entry)
    return problems


def _present(sizes: dict[str, int]) -> tuple[dict[int, int], list[str]]:
    """Per segment id, a bit per archive object present (then one for its sidecar); and archive-like names of no segment."""
    present: dict[int, int] = {}
    strays = []
    for name in sorted(sizes):
        sidecar_id = sidecar_segment_id(name)
        if sidecar_id is not None:
            present[sidecar_id] = present.get(sidecar_id, 0) | _SIDECAR_BIT
            continue
        if not name.endswith((".q", ".q.zst", ".q.zst.idx")):
            continue
        digits = name[:9]
        segment_id = int(digits) if digits.isascii() and digits.isdigit() else None
        if segment_id is None or name not in segment_file_names(segment_id):
            strays.append(name)
        else:
            present[segment_id] = present.get(segment_id, 0) | 1 << segment_file_names(segment_id).index(name)
    return present, strays


def _recorded_entry(
    client: S3Client, prefix: str, segment_id: int, bits: int, summary: PartitionSummary | None
) -> tuple[SegmentEntry | None, str, list[Finding]]:
    """The entry that records `segment_id`, where it is recorded, and what is wrong with that record."""
    name = sidecar_name(segment_id)
    url = client.url_of(prefix + name)
    entry = None
    if bits & _SIDECAR_BIT:
        found = client.get(prefix + name, max_bytes=MAX_SIDECAR_BYTES + 1)
        try:
            if found is not None:
                entry = sidecar_from_json(parse_json(found[0], url, MAX_SIDECAR_BYTES), url, name)
        except CorruptArchiveError as exc:
            return None, name, [Finding(url, _without_source(str(exc), url))]
    applied = summary.last_applied if summary is not None else None
    if applied is None or applied.segment_id != segment_id or entry == applied:
        return entry, name, []
    state = "missing" if entry is None else "behind meta.json's last_applied entry"
    finding = Finding(url, f"{state} (a crash left it, or an archiver is running; the next archiver run writes it)")
    return applied, META_FILE_NAME, [finding]


def _unrecorded(
    client: S3Client, prefix: str, segment_id: int, bits: int, entry: SegmentEntry | None, recorded_in: str
) -> list[Finding]:
    listed = {f.name for f in entry.files} if entry is not None else set()
    where = recorded_in if entry is not None else "any metadata"
    return [
        Finding(client.url_of(prefix + name), f"archive object not recorded in {where}")
        for bit, name in enumerate(segment_file_names(segment_id))
        if bits & (1 << bit) and name not in listed
    ]


def _chunks(client: S3Client, key: str) -> Iterator[bytes]:
    response = client.open(key)
    if response is None:
        raise CorruptArchiveError(f"{client.url_of(key)}: vanished while verify read it")
    yield from iter_body(response)


def _index(client: S3Client, key: str) -> SeekIndex:
    found = client.get(key)
    if found is None:
        raise CorruptArchiveError(f"{client.url_of(key)}: vanished while verify read it")
    return SeekIndex.decode(found[0], source=client.url_of(key))


def _digest(chunks: Iterator[bytes]) -> Digest:
    crc = size = 0
    for chunk in chunks:
        crc = crc32(chunk, crc)
        size += len(chunk)
    return Digest(size, crc)


def _without_source(message: str, url: str) -> str:
    """A finding's message from an error that may start with the object's own name."""
    return message[len(url) + 2 :] if message.startswith(url + ": ") else message
