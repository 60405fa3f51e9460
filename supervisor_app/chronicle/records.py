"""Records in a segment's data area: their layout, walking them, and summarizing them fast."""

from __future__ import annotations

import mmap
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Final, Literal, NamedTuple, TypeAlias

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

SCANNER_IMPLEMENTATION: Final[Literal["c", "python"]] = "c" if _recordscan is not None else "python"
# How payload CRC-32s are computed: carry-less multiply folding (x86-64 with PCLMULQDQ), else zlib.
CRC32_METHOD: Final[Literal["pclmul", "zlib"]] = _recordscan.crc32_method() if _recordscan is not None else "zlib"


def crc32(data: Buffer, value: int = 0) -> int:
    """`zlib.crc32(data, value)`, several times faster through the C scanner's CRC when it is built."""
    return _recordscan.crc32(data, value) if _recordscan is not None else zlib.crc32(data, value)


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
    """What the archiver needs from a segment: counts, event-time range, where the data ends, what is wrong.

    Counts and the time range cover the good records only: when `corrupt`, records were
    left out (bad ones) or may be missing (truncated, data after the end).
    """

    record_count: int  # good records (payload CRC-32 matches), PAD records not included
    pad_count: int  # well-formed PAD records (a repaired segment's filler, at most one)
    min_timestamp_ns: int | None
    max_timestamp_ns: int | None
    data_end: int  # where the walk stopped: after the last record, or at the record that runs past the end
    bad_record_count: int = 0  # records walked over whose payload CRC-32 or header is wrong
    first_bad_offset: int | None = None  # where the first problem of any kind starts
    truncated: bool = False  # a record runs past the end of the file, or the file is shorter than a segment
    data_after_end: bool = False  # non-zero bytes after data_end, where a sealed segment holds only zeros

    @property
    def corrupt(self) -> bool:
        """True when the segment is not what a healthy writer leaves: some finding above."""
        return self.first_bad_offset is not None


class ScanState(NamedTuple):
    """Where a scan fed window by window stands; the C twin takes and returns the same fields as a tuple."""

    next: int  # offset of the next record header to read
    done: bool  # the walk has found the end of the records
    good: int  # records counted in the summary
    pads: int
    min_ts: int  # min_ts and max_ts mean nothing while good is 0
    max_ts: int
    bad: int
    first_bad: int  # -1: nothing found yet
    truncated: bool
    data_after_end: bool
    # A check of a byte range that may run on into the next windows: CHECK_CRC (a record's
    # payload), CHECK_PAD (a PAD record's payload: zeros), CHECK_TAIL (after a zero commit
    # word: zeros up to the end) or CHECK_CUT (fewer than 64 bytes after the last record:
    # zeros, else a record header cut short).
    check: int
    check_end: int  # where the range ends
    crc: int  # CRC-32 of the payload bytes seen so far
    rec_offset: int  # the record being checked, its header's CRC-32 and timestamp
    rec_crc: int
    rec_ts: int


CHECK_NONE: Final = 0
CHECK_CRC: Final = 1
CHECK_PAD: Final = 2
CHECK_TAIL: Final = 3
CHECK_CUT: Final = 4

INITIAL_SCAN_STATE: Final = ScanState(
    SEG_DATA_OFFSET, False, 0, 0, 0, 0, 0, -1, False, False, CHECK_NONE, 0, 0, 0, 0, 0
)

# The whole header, reserved bytes included: commit word, 4 zero bytes, seq, timestamp_ns,
# type id, flags, crc32, 32 zero bytes.
_HEADER_ALL: Final = struct.Struct("<IIQQHHI32s")
_ZERO_32: Final = bytes(32)


def scan_window_python(
    window: Buffer, base: int, file_size: int, state: ScanState, verify_crc: bool = True
) -> ScanState:
    """Walk and check the records in `[base, base + len(window))`, the window after the last one fed.

    The C twin `_recordscan.scan_window` must return the same state for every input.
    """
    # One flat loop over locals: this is the fallback when the C scanner is not built, and hot.
    # PAD records (timestamp 0) are left out of the count and the time range. The
    # chronicle-rs reference counts them, which files repaired segments under 1970-01-01.
    view = _byte_view(window)
    end = base + len(view)
    (next_offset, done, count, pads, min_ts, max_ts, bad, first_bad, truncated, after_end) = state[:10]
    check, check_end, crc, rec_offset, rec_crc, rec_ts = state[10:]
    if (
        check not in (CHECK_NONE, CHECK_CRC, CHECK_PAD, CHECK_TAIL, CHECK_CUT)
        or (check != CHECK_NONE and not base <= check_end <= file_size)
        or (not done and next_offset < base)
    ):
        raise ValueError(f"scan state does not follow on to a window at offset {base}")
    unpack = _HEADER_ALL.unpack_from
    crc32 = zlib.crc32
    start = base  # where the pending check goes on
    while True:
        if check != CHECK_NONE:
            stop = check_end if check_end < end else end
            chunk = view[start - base : stop - base]
            if check == CHECK_CRC:
                crc = crc32(chunk, crc)
                if stop < check_end:
                    break
                if crc == rec_crc:
                    if count == 0 or rec_ts < min_ts:
                        min_ts = rec_ts
                    if count == 0 or rec_ts > max_ts:
                        max_ts = rec_ts
                    count += 1
                else:
                    bad += 1
                    first_bad = rec_offset if first_bad < 0 else first_bad
            else:
                nonzero = _first_nonzero(chunk)
                if nonzero is None and stop < check_end:
                    break
                if nonzero is None:
                    if check == CHECK_PAD:
                        pads += 1
                elif check == CHECK_PAD:
                    bad += 1
                    first_bad = rec_offset if first_bad < 0 else first_bad
                elif check == CHECK_CUT:
                    truncated = True
                    first_bad = rec_offset if first_bad < 0 else first_bad
                else:
                    after_end = True
                    first_bad = start + nonzero if first_bad < 0 else first_bad
            check = check_end = crc = rec_offset = rec_crc = rec_ts = 0
        if done:
            break
        offset = next_offset
        if offset + RECORD_HEADER_LEN > file_size:  # no room for another record: the data ends here
            done = True
            if offset < file_size:
                check, check_end, rec_offset, start = CHECK_CUT, file_size, offset, offset
            continue
        if offset + RECORD_HEADER_LEN > end:
            break  # the header is in the next window
        commit, zero4, seq, timestamp_ns, type_id, flags, header_crc, zero32 = unpack(view, offset - base)
        if commit == 0:
            done = True
            check, check_end, start = CHECK_TAIL, file_size, offset
            continue
        length = (commit + 126) & ~63  # _record_len_from_commit, inlined: this loop is hot
        if length > file_size - offset:
            done = truncated = True
            first_bad = offset if first_bad < 0 else first_bad
            break
        next_offset = offset + length
        payload_end = offset + RECORD_HEADER_LEN + commit - 1
        if zero4 or zero32 != _ZERO_32:
            bad += 1
            first_bad = offset if first_bad < 0 else first_bad
        elif type_id == PAD_TYPE_ID:
            # Exactly what a writer's repair leaves: all zero but the commit word and type id, up to the end.
            if next_offset == file_size and not (seq or timestamp_ns or flags or header_crc):
                check, check_end, rec_offset, start = CHECK_PAD, payload_end, offset, offset + RECORD_HEADER_LEN
            else:
                bad += 1
                first_bad = offset if first_bad < 0 else first_bad
        elif verify_crc:
            check, check_end, start = CHECK_CRC, payload_end, offset + RECORD_HEADER_LEN
            rec_offset, rec_crc, rec_ts = offset, header_crc, timestamp_ns
        else:
            if count == 0 or timestamp_ns < min_ts:
                min_ts = timestamp_ns
            if count == 0 or timestamp_ns > max_ts:
                max_ts = timestamp_ns
            count += 1
    return ScanState(
        next_offset, done, count, pads, min_ts, max_ts, bad, first_bad, truncated, after_end,
        check, check_end, crc, rec_offset, rec_crc, rec_ts,
    )  # fmt: skip


def _first_nonzero(chunk: memoryview) -> int | None:
    data = chunk.tobytes()
    rest = len(data.lstrip(b"\0"))
    return None if rest == 0 else len(data) - rest


class RecordScanner:
    """Summarize and check a segment fed as consecutive windows, so it never has to sit in memory whole."""

    def __init__(
        self, file_size: int, *, segment_size: int | None = None, verify_crc: bool = True, use_c: bool = True
    ) -> None:
        """`segment_size`: the queue's segment size when known; a shorter file is reported truncated."""
        self._file_size = file_size
        self._segment_size = segment_size
        self._verify_crc = verify_crc
        self._fed = 0
        self._state = INITIAL_SCAN_STATE
        self._scan: Callable[[Buffer, int, int, ScanState, bool], tuple[object, ...]] = (
            _recordscan.scan_window if use_c and _recordscan is not None else scan_window_python
        )

    @property
    def state(self) -> ScanState:
        """Where the scan stands after the windows fed so far (tests compare the twins on it)."""
        return self._state

    def feed(self, window: Buffer, base: int) -> None:
        """`base` is the window's offset in the segment: where the previous window ended, a multiple of 64."""
        if base != self._fed or base % RECORD_ALIGN:
            raise ValueError(f"window at offset {base}: windows must follow each other from 0, at multiples of 64")
        view = _byte_view(window)
        self._state = ScanState._make(self._scan(view, base, self._file_size, self._state, self._verify_crc))
        self._fed = base + len(view)

    def summary(self) -> RecordSummary:
        s = self._state
        first_bad, truncated = s.first_bad, s.truncated
        if self._fed < self._file_size:  # the file shrank while it was read: the rest is missing
            truncated, first_bad = True, first_bad if first_bad >= 0 else self._fed
        if self._segment_size is not None and self._file_size < self._segment_size:
            truncated, first_bad = True, first_bad if first_bad >= 0 else self._file_size
        return RecordSummary(
            record_count=s.good,
            pad_count=s.pads,
            min_timestamp_ns=s.min_ts if s.good else None,
            max_timestamp_ns=s.max_ts if s.good else None,
            data_end=s.next,
            bad_record_count=s.bad,
            first_bad_offset=None if first_bad < 0 else first_bad,
            truncated=truncated,
            data_after_end=s.data_after_end,
        )


def summarize_records(buf: Buffer) -> RecordSummary:
    """Summarize a whole segment buffer with the C scanner when built, else in pure Python."""
    view = _byte_view(buf)
    scanner = RecordScanner(len(view))
    scanner.feed(view, 0)
    return scanner.summary()


def data_end(buf: Buffer) -> int:
    """Where the committed records of a segment buffer end: a walk of the headers only (no payload CRCs)."""
    view = _byte_view(buf)
    scanner = RecordScanner(len(view), verify_crc=False)
    scanner.feed(view, 0)
    return scanner.summary().data_end


def summarize_records_python(buf: Buffer) -> RecordSummary:
    """The pure-Python scan; `_recordscan.c` must give identical results on every input."""
    view = _byte_view(buf)
    scanner = RecordScanner(len(view), use_c=False)
    scanner.feed(view, 0)
    return scanner.summary()
