"""Walk a segment's records window by window, so a 128 MiB segment never sits in memory at once."""

from __future__ import annotations

import struct
from dataclasses import dataclass

SEG_DATA_OFFSET = 64
RECORD_HEADER_LEN = 64
PAD_TYPE_ID = 0xFFFF
# commit word, 12 skipped bytes (reserved + seq), timestamp, type id
_HEADER = struct.Struct("<I12xQH")


@dataclass(frozen=True)
class SegmentScan:
    """What one pass over a segment's records found; PAD records are counted apart."""

    record_count: int
    pad_count: int
    min_timestamp_ns: int | None
    max_timestamp_ns: int | None
    data_end: int  # offset just past the last record


class IncrementalScanner:
    """Feed consecutive 64-byte-aligned windows of one segment; read the totals at the end."""

    def __init__(self, file_size: int) -> None:
        self._file_size = file_size
        self._next = SEG_DATA_OFFSET
        self._done = False
        self._count = 0
        self._pads = 0
        self._min: int | None = None
        self._max: int | None = None

    def feed(self, window: bytes | bytearray | memoryview, base: int) -> None:
        """Walk every record header that starts inside `[base, base + len(window))`."""
        end = base + len(window)
        unpack = _HEADER.unpack_from
        while not self._done and base <= self._next and self._next + RECORD_HEADER_LEN <= end:
            commit, timestamp, type_id = unpack(window, self._next - base)
            record_len = (RECORD_HEADER_LEN + commit - 1 + 63) & ~63
            if commit == 0 or self._next + record_len > self._file_size:
                self._done = True
                break
            if type_id == PAD_TYPE_ID:
                # The reference counts PAD records' timestamp 0 and files repaired segments under 1970.
                self._pads += 1
            else:
                self._count += 1
                if self._min is None or timestamp < self._min:
                    self._min = timestamp
                if self._max is None or timestamp > self._max:
                    self._max = timestamp
            self._next += record_len
        if self._next + RECORD_HEADER_LEN > self._file_size:
            self._done = True

    def result(self) -> SegmentScan:
        return SegmentScan(self._count, self._pads, self._min, self._max, self._next)
