"""Records in a segment's data area: their layout, walking them, and summarizing them fast."""

from __future__ import annotations

import mmap
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Final, Literal, TypeAlias

from supervisor_app.chronicle.segment import SEG_DATA_OFFSET
from supervisor_app.errors import CorruptSegmentError

_recordscan: ModuleType | None
try:
    from supervisor_app.chronicle import _recordscan
except ImportError:  # installed without a C compiler: the pure-Python scan gives the same results
    _recordscan = None

Buffer: TypeAlias = bytes | bytearray | memoryview | mmap.mmap

RECORD_HEADER_LEN: Final = 64
RECORD_ALIGN: Final = 64
PAD_TYPE_ID: Final = 0xFFFF

# commit word, zero, seq, timestamp_ns, type id, flags, crc32, 32 zero bytes.
RECORD_HEADER: Final = struct.Struct("<IIQQHHI32x")
COMMIT_WORD: Final = struct.Struct("<I")
# Only what a summary needs: commit word (0), timestamp (16), type id (24).
_SCAN_FIELDS: Final = struct.Struct("<I12xQH")

SCANNER_IMPLEMENTATION: Final[Literal["c", "python"]] = "c" if _recordscan is not None else "python"


def record_len(payload_len: int) -> int:
    """Bytes a record takes on disk: header + payload, rounded up to 64."""
    return -(-(RECORD_HEADER_LEN + payload_len) // RECORD_ALIGN) * RECORD_ALIGN


def encode_record(
    seq: int, timestamp_ns: int, type_id: int, flags: int, payload: bytes, *, crc: int | None = None
) -> bytes:
    """The on-disk bytes of one committed record, zero-padded; `crc` defaults to the payload's."""
    checksum = zlib.crc32(payload) if crc is None else crc
    header = RECORD_HEADER.pack(len(payload) + 1, 0, seq, timestamp_ns, type_id, flags, checksum)
    return (header + payload).ljust(record_len(len(payload)), b"\0")


def _record_len_from_commit(commit_word: int) -> int:
    # commit word = payload_len + 1, so align_up(64 + cw - 1, 64) = (cw + 126) & ~63.
    return (commit_word + RECORD_HEADER_LEN + RECORD_ALIGN - 2) & ~(RECORD_ALIGN - 1)


@dataclass(frozen=True)
class Record:
    """One committed record; `payload` is a zero-copy view into the walked buffer (bytes() to keep it)."""

    offset: int
    seq: int
    timestamp_ns: int
    type_id: int
    flags: int
    crc32: int
    payload: memoryview | bytes
    record_len: int

    @property
    def is_pad(self) -> bool:
        """True for the filler record a writer repair leaves at the end of a segment."""
        return self.type_id == PAD_TYPE_ID


def _byte_view(buf: Buffer) -> memoryview:
    view = memoryview(buf)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")


def iter_records(buf: Buffer, *, verify_crc: bool = False) -> Iterator[Record]:
    """Yield the committed records of a whole segment buffer, from offset 64, per the spec."""
    view = _byte_view(buf)
    end = len(view)
    offset = SEG_DATA_OFFSET
    while offset + RECORD_HEADER_LEN <= end:
        commit, _, seq, timestamp_ns, type_id, flags, crc = RECORD_HEADER.unpack_from(view, offset)
        length = _record_len_from_commit(commit)
        if commit == 0 or offset + length > end:
            return
        payload_start = offset + RECORD_HEADER_LEN
        record = Record(
            offset,
            seq,
            timestamp_ns,
            type_id,
            flags,
            crc,
            view[payload_start : payload_start + commit - 1],
            length,
        )
        if verify_crc:
            _verify_crc(record)
        yield record
        offset += length


def _verify_crc(record: Record) -> None:
    # The chronicle-rs writer leaves CRC 0 in the PAD record of a repaired segment
    # (fixture repaired/000000002.q), not the CRC of its zero payload: PAD is not checked.
    if record.is_pad:
        return
    actual = zlib.crc32(record.payload)
    if actual != record.crc32:
        raise CorruptSegmentError(
            f"record at offset {record.offset} (seq {record.seq}): payload CRC-32 {actual:#010x}"
            f" != {record.crc32:#010x} in its header"
        )


@dataclass(frozen=True)
class RecordSummary:
    """What the archiver needs from a segment: counts, event-time range, where the data ends."""

    record_count: int
    pad_count: int
    min_timestamp_ns: int | None
    max_timestamp_ns: int | None
    data_end: int


# (next offset, done, count, pads, min_ts, max_ts): min/max mean nothing while count is 0.
ScanState: TypeAlias = tuple[int, bool, int, int, int, int]
INITIAL_SCAN_STATE: Final[ScanState] = (SEG_DATA_OFFSET, False, 0, 0, 0, 0)


def scan_window_python(window: Buffer, base: int, file_size: int, state: ScanState) -> ScanState:
    """Walk the record headers starting inside `[base, base + len(window))`; the C twin must agree."""
    # PAD records (timestamp 0) are left out of the count and the time range. The
    # chronicle-rs reference counts them, which files repaired segments under 1970-01-01.
    view = _byte_view(window)
    end = base + len(view)
    unpack = _SCAN_FIELDS.unpack_from
    offset, done, count, pads, min_ts, max_ts = state
    while not done and base <= offset and offset + RECORD_HEADER_LEN <= end:
        commit, timestamp_ns, type_id = unpack(view, offset - base)
        length = (commit + 126) & ~63  # _record_len_from_commit, inlined: this loop is hot
        if commit == 0 or offset + length > file_size:
            done = True
            break
        offset += length
        if type_id == PAD_TYPE_ID:
            pads += 1
            continue
        if count == 0 or timestamp_ns < min_ts:
            min_ts = timestamp_ns
        if count == 0 or timestamp_ns > max_ts:
            max_ts = timestamp_ns
        count += 1
    if offset + RECORD_HEADER_LEN > file_size:
        done = True
    return offset, done, count, pads, min_ts, max_ts


class RecordScanner:
    """Summarize a segment fed as consecutive windows, so it never has to sit in memory whole."""

    def __init__(self, file_size: int, *, use_c: bool = True) -> None:
        self._file_size = file_size
        self._state = INITIAL_SCAN_STATE
        self._scan = _recordscan.scan_window if use_c and _recordscan is not None else scan_window_python

    def feed(self, window: Buffer, base: int) -> None:
        """`base` is the window's offset in the segment; windows start on 64-byte boundaries."""
        self._state = self._scan(window, base, self._file_size, self._state)

    def summary(self) -> RecordSummary:
        offset, _, count, pads, min_ts, max_ts = self._state
        if count == 0:
            return RecordSummary(0, pads, None, None, offset)
        return RecordSummary(count, pads, min_ts, max_ts, offset)


def summarize_records(buf: Buffer) -> RecordSummary:
    """Summarize a whole segment buffer with the C scanner when built, else in pure Python."""
    view = _byte_view(buf)
    scanner = RecordScanner(len(view))
    scanner.feed(view, 0)
    return scanner.summary()


def summarize_records_python(buf: Buffer) -> RecordSummary:
    """The pure-Python scan; `_recordscan.c` must give identical results on every input."""
    view = _byte_view(buf)
    scanner = RecordScanner(len(view), use_c=False)
    scanner.feed(view, 0)
    return scanner.summary()
