"""A queue writer in the chronicle-rs on-disk format (for tests, the demo and benchmarks).

It reproduces the reference writer byte for byte (see tests/chronicle/test_writer.py):
seq numbers run on across segments; a roll seals the segment (its tail stays zero)
and preallocates the one after the new one; reopening a queue whose last non-empty
segment is unsealed ends it with one PAD record (seq 0, timestamp 0, CRC 0, zero
payload up to the end), seals it, and goes on in the next segment.
"""

from __future__ import annotations

import mmap
import os
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Final

from supervisor_app.chronicle.records import (
    COMMIT_WORD,
    PAD_TYPE_ID,
    RECORD_ALIGN,
    RECORD_HEADER,
    RECORD_HEADER_LEN,
    data_end,
    iter_records,
    record_len,
)
from supervisor_app.chronicle.retention import (
    WRITER_RULE,
    RetentionRule,
    apply_retention,
)
from supervisor_app.chronicle.segment import (
    DEFAULT_SEGMENT_SIZE,
    SEG_DATA_OFFSET,
    encode_segment_header,
    list_segment_ids,
    mark_sealed,
    read_segment_header,
    segment_name,
)
from supervisor_app.durable import TMP_SUFFIX, fsync_dir

_ZERO_CHUNK: Final = bytes(1024 * 1024)


def _create_segment_file(queue_dir: Path, segment_id: int, size: int) -> Path:
    """Create an empty unsealed segment atomically (``.q.tmp``, fsync, rename to ``.q``)."""
    path = queue_dir / segment_name(segment_id)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    with tmp.open("wb") as file:
        file.write(encode_segment_header(segment_id))
        file.truncate(size)  # sparse zeros: an unwritten record slot reads as commit word 0
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    fsync_dir(queue_dir)
    return path


def _map(path: Path) -> mmap.mmap:
    with path.open("r+b") as file:
        return mmap.mmap(file.fileno(), 0)


def _zero_from(buffer: mmap.mmap, start: int) -> None:
    """Zero `buffer[start:]`, writing only the chunks that are not zero already."""
    for chunk_start in range(start, len(buffer), len(_ZERO_CHUNK)):
        chunk_end = min(chunk_start + len(_ZERO_CHUNK), len(buffer))
        zeros = _ZERO_CHUNK[: chunk_end - chunk_start]
        if buffer[chunk_start:chunk_end] != zeros:
            buffer[chunk_start:chunk_end] = zeros


def _write_pad(buffer: mmap.mmap, data_end: int) -> None:
    """Fill `buffer[data_end:]` with one PAD record, exactly as chronicle-rs repairs a segment."""
    payload_len = len(buffer) - data_end - RECORD_HEADER_LEN
    _zero_from(buffer, data_end)  # a torn record may have left bytes past the last commit
    RECORD_HEADER.pack_into(buffer, data_end, 0, 0, 0, 0, PAD_TYPE_ID, 0, 0)
    COMMIT_WORD.pack_into(buffer, data_end, payload_len + 1)


def repair_segment(path: Path) -> None:
    """End an unsealed segment left by a stopped writer with a PAD record, and seal it."""
    buffer = _map(path)
    try:
        end = data_end(buffer)
        if len(buffer) - end >= RECORD_HEADER_LEN:
            _write_pad(buffer, end)
        mark_sealed(buffer)
        buffer.flush()
    finally:
        buffer.close()


def _last_seq(queue_dir: Path, segment_ids: Iterable[int]) -> int | None:
    """The seq of the newest non-PAD record among `segment_ids` (searched newest first)."""
    for segment_id in sorted(segment_ids, reverse=True):
        data = (queue_dir / segment_name(segment_id)).read_bytes()
        seqs = [record.seq for record in iter_records(data) if not record.is_pad]
        if seqs:
            return seqs[-1]
    return None


def _has_records(path: Path) -> bool:
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data_end(data) > SEG_DATA_OFFSET


def _finish_previous_run(queue_dir: Path, segment_ids: list[int]) -> int | None:
    """Repair a stopped writer's unsealed segment; return the last finished segment's id."""
    for segment_id in reversed(segment_ids):
        path = queue_dir / segment_name(segment_id)
        if read_segment_header(path, segment_id).sealed:
            return segment_id
        if _has_records(path):
            repair_segment(path)
            return segment_id
    return None  # every segment is empty and unsealed (preallocated, never written)


def _check_type_id(type_id: int) -> None:
    if type_id == PAD_TYPE_ID:
        raise ValueError("type id 0xFFFF is reserved for PAD records")


class QueueWriter:
    """Appends records to a queue directory the way the chronicle-rs writer does."""

    def __init__(
        self,
        queue_dir: Path,
        *,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        preallocate_next: bool = True,
        retention: bool = True,
        retention_rule: RetentionRule = WRITER_RULE,
        durable: bool = False,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if segment_size % RECORD_ALIGN or segment_size < SEG_DATA_OFFSET + RECORD_HEADER_LEN:
            raise ValueError(f"segment size {segment_size} is not a multiple of 64 of at least 128")
        self._queue_dir = queue_dir
        self._segment_size = segment_size
        self._preallocate_next = preallocate_next
        self._retention = retention
        self._retention_rule = retention_rule
        self._durable = durable  # msync each segment when sealed and on close
        self._clock = clock
        self._buffer: mmap.mmap | None = None
        self._segment_id = 0
        self._offset = SEG_DATA_OFFSET
        self._next_seq = 0
        queue_dir.mkdir(parents=True, exist_ok=True)
        self._resume()

    def __enter__(self) -> QueueWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def current_segment_id(self) -> int:
        """The segment records are appended to."""
        return self._segment_id

    @property
    def next_seq(self) -> int:
        """The seq the next appended record gets."""
        return self._next_seq

    def _resume(self) -> None:
        segment_ids = list_segment_ids(self._queue_dir)
        finished = _finish_previous_run(self._queue_dir, segment_ids)
        if finished is None:
            self._open_segment(segment_ids[0] if segment_ids else 0)
        else:
            last_seq = _last_seq(self._queue_dir, (i for i in segment_ids if i <= finished))
            self._next_seq = 0 if last_seq is None else last_seq + 1
            self._open_segment(finished + 1)
        # The stopped writer may have torn a first record here (commit word still 0).
        _zero_from(self._current(), SEG_DATA_OFFSET)

    def _open_segment(self, segment_id: int) -> None:
        """Make `segment_id` (empty: preallocated, or created now) the current segment."""
        path = self._queue_dir / segment_name(segment_id)
        if path.exists():
            read_segment_header(path, segment_id)
        else:
            _create_segment_file(self._queue_dir, segment_id, self._segment_size)
        self._buffer = _map(path)
        self._segment_id = segment_id
        self._offset = SEG_DATA_OFFSET

    def _current(self) -> mmap.mmap:
        if self._buffer is None:
            raise ValueError("the queue writer is closed")
        return self._buffer

    def _make_room(self, length: int) -> mmap.mmap:
        if length > self._segment_size - SEG_DATA_OFFSET:
            raise ValueError(f"a {length}-byte record cannot fit a {self._segment_size}-byte segment")
        buffer = self._current()
        if self._offset + length > len(buffer):
            self.roll()
            buffer = self._current()
        return buffer

    def append(self, payload: bytes, *, timestamp_ns: int | None = None, type_id: int = 1, flags: int = 0) -> int:
        """Append one record (rolling first if it does not fit); return its seq."""
        _check_type_id(type_id)
        stamp = self._clock() if timestamp_ns is None else timestamp_ns
        return self._write_record(payload, stamp, type_id, flags)

    def append_many(
        self,
        payloads: Iterable[bytes],
        *,
        timestamps_ns: Iterable[int] | None = None,
        type_id: int = 1,
        flags: int = 0,
    ) -> range:
        """Append many records in one call (the fast path); return the range of their seqs."""
        _check_type_id(type_id)
        first_seq = self._next_seq
        if timestamps_ns is None:
            stamped: Iterable[tuple[bytes, int]] = ((payload, self._clock()) for payload in payloads)
        else:
            stamped = zip(payloads, timestamps_ns, strict=True)
        write = self._write_record
        for payload, timestamp_ns in stamped:
            write(payload, timestamp_ns, type_id, flags)
        return range(first_seq, self._next_seq)

    def _write_record(self, payload: bytes, timestamp_ns: int, type_id: int, flags: int) -> int:
        payload_len = len(payload)
        length = record_len(payload_len)
        buffer = self._make_room(length)
        offset = self._offset
        seq = self._next_seq
        # Header and payload first, the commit word last: a reader never sees a
        # committed record whose bytes are not all there.
        RECORD_HEADER.pack_into(buffer, offset, 0, 0, seq, timestamp_ns, type_id, flags, zlib.crc32(payload))
        payload_start = offset + RECORD_HEADER_LEN
        buffer[payload_start : payload_start + payload_len] = payload
        COMMIT_WORD.pack_into(buffer, offset, payload_len + 1)
        self._offset = offset + length
        self._next_seq = seq + 1
        return seq

    def roll(self) -> None:
        """Seal the current segment and move to the next; preallocate the one after it."""
        self._seal_current()
        next_id = self._segment_id + 1
        self._open_segment(next_id)
        if self._preallocate_next:
            self._preallocate(next_id + 1)
        if self._retention:
            apply_retention(
                self._queue_dir,
                next_id,
                SEG_DATA_OFFSET,
                self._segment_size,
                self._clock(),
                self._retention_rule,
            )

    def _seal_current(self) -> None:
        mark_sealed(self._current())
        self._release_segment()

    def _release_segment(self) -> None:
        buffer = self._current()
        if self._durable:
            buffer.flush()
        buffer.close()
        self._buffer = None

    def _preallocate(self, segment_id: int) -> None:
        if not (self._queue_dir / segment_name(segment_id)).exists():
            _create_segment_file(self._queue_dir, segment_id, self._segment_size)

    def flush(self) -> None:
        """Write the current segment's pages to disk (msync)."""
        self._current().flush()

    def close(self, *, seal: bool = False) -> None:
        """Stop writing; the current segment stays unsealed unless `seal` (a reopen repairs it)."""
        if self._buffer is None:
            return
        if seal:
            mark_sealed(self._buffer)
        self._release_segment()
