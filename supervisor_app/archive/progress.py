"""How far one venue's archiving is behind its writer, and how close that is to losing data."""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.archive.layout import META_FILE_NAME, ArchiveLayout
from supervisor_app.archive.meta import current_summary
from supervisor_app.chronicle.reader_position import (
    ReaderPosition,
    load_position,
    position_path,
)
from supervisor_app.chronicle.records import data_end
from supervisor_app.chronicle.retention import (
    MAX_READER_LAG_BYTES,
    READER_TIMEOUT_NS,
    reader_lag_bytes,
)
from supervisor_app.chronicle.segment import (
    SEG_DATA_OFFSET,
    list_segment_ids,
    read_segment_header,
    segment_name,
)
from supervisor_app.errors import ChronicleFleetError

# Warn well before the writer's limits, while there is still time to act.
HEARTBEAT_WARN_NS = READER_TIMEOUT_NS * 2 // 3
LAG_WARN_BYTES = MAX_READER_LAG_BYTES * 8 // 10


@dataclass(frozen=True)
class ArchiveProgress:
    """What `chronicle-fleet status` shows of one venue's archive."""

    position_segment: int | None  # next segment the archiver will archive; None: no reader yet
    heartbeat_age_s: float | None
    head_segment: int | None  # the segment the writer is filling
    segments_behind: int  # sealed segments not yet archived
    bytes_behind: int  # as the writer's retention measures a reader's lag
    last_archived_segment: int | None
    last_archived_at_ns: int | None
    risks: tuple[str, ...]  # why retention may soon delete unarchived segments


def archive_progress(queue_dir: Path, reader_name: str, layout: ArchiveLayout | None, now_ns: int) -> ArchiveProgress:
    """Read the queue, our reader file and the newest meta.json; never writes anything.

    Without a layout (an archive in an object store), the last archived segment is not read.

    Damaged metadata raises CorruptArchiveError, a ChronicleFleetError that status shows for this venue alone.
    """
    last_segment, last_at = _last_archived(layout) if layout is not None else (None, None)
    position = _position(queue_dir, reader_name)
    if position is None or not queue_dir.is_dir():
        return ArchiveProgress(None, None, None, 0, 0, last_segment, last_at, ())
    ids = [i for i in list_segment_ids(queue_dir) if i >= position.segment_id]
    head, head_offset, sealed_behind = _head(queue_dir, ids)
    segment_size = _segment_size(queue_dir, ids)
    lag = reader_lag_bytes(position, head, head_offset, segment_size) if head is not None else 0
    age_ns = now_ns - position.heartbeat_ns if position.heartbeat_ns else None
    return ArchiveProgress(
        position_segment=position.segment_id,
        heartbeat_age_s=None if age_ns is None else age_ns / 1e9,
        head_segment=head,
        segments_behind=sealed_behind,
        bytes_behind=lag,
        last_archived_segment=last_segment,
        last_archived_at_ns=last_at,
        risks=_risks(age_ns, lag),
    )


def _position(queue_dir: Path, reader_name: str) -> ReaderPosition | None:
    path = position_path(queue_dir, reader_name)
    if not path.exists():
        return None
    return load_position(path)


def _head(queue_dir: Path, ids: list[int]) -> tuple[int | None, int, int]:
    """(the writer's current segment, how far it has written into it, sealed segments before it)."""
    for count, segment_id in enumerate(ids):
        path = queue_dir / segment_name(segment_id)
        try:
            if not read_segment_header(path, segment_id).sealed:
                return segment_id, _data_end(path), count
        except (FileNotFoundError, ChronicleFleetError):
            continue  # deleted or being created under us: the next one tells the story
    return (ids[-1] + 1 if ids else None), SEG_DATA_OFFSET, len(ids)


def _data_end(path: Path) -> int:
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        return data_end(mapped)  # status asks often: the headers only, no payload CRCs


def _segment_size(queue_dir: Path, ids: list[int]) -> int:
    for segment_id in ids:
        try:
            return (queue_dir / segment_name(segment_id)).stat().st_size
        except FileNotFoundError:
            continue
    return 0


def _last_archived(layout: ArchiveLayout) -> tuple[int | None, int | None]:
    """The newest partition's last segment and last archive time: one small meta.json read per call."""
    for partition in reversed(layout.partition_dirs()):
        # An unreadable meta.json raises: status shows it for this venue rather than an older figure.
        summary = current_summary(partition / META_FILE_NAME)
        if summary is not None and summary.segment_count:
            return summary.last_segment_id, summary.last_archived_at_ns
    return None, None


def _risks(heartbeat_age_ns: int | None, lag_bytes: int) -> tuple[str, ...]:
    risks = []
    if heartbeat_age_ns is not None and heartbeat_age_ns > HEARTBEAT_WARN_NS:
        risks.append(
            f"reader heartbeat is {heartbeat_age_ns / 1e9:.0f} s old; the writer's retention ignores readers after "
            f"{READER_TIMEOUT_NS // 1_000_000_000} s and then deletes unarchived segments"
        )
    if lag_bytes > LAG_WARN_BYTES:
        risks.append(
            f"archiver lags the writer by {lag_bytes / 2**30:.1f} GiB; past {MAX_READER_LAG_BYTES / 2**30:.0f} GiB "
            "the writer's retention ignores it and deletes unarchived segments"
        )
    return tuple(risks)
