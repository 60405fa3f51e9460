"""Segment files: their names and their 64-byte header (see the chronicle format spec)."""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from supervisor_app.errors import CorruptSegmentError

SEG_MAGIC: Final = 0x53454730
SEG_VERSION: Final = 1
SEG_HEADER_LEN: Final = 64
SEG_DATA_OFFSET: Final = SEG_HEADER_LEN
SEG_FLAG_SEALED: Final = 1
DEFAULT_SEGMENT_SIZE: Final = 128 * 1024 * 1024

SEGMENT_SUFFIX: Final = ".q"
SEGMENT_ID_DIGITS: Final = 9

# magic, version, segment id, flags, then 48 zero bytes.
_HEADER: Final = struct.Struct("<IIII48x")
_FLAGS: Final = struct.Struct("<I")
_FLAGS_OFFSET: Final = 12
_SEGMENT_NAME: Final = re.compile(r"[0-9]{9}\.q")


def segment_name(segment_id: int) -> str:
    """The file name of a segment, e.g. ``000000042.q``."""
    return f"{segment_id:0{SEGMENT_ID_DIGITS}d}{SEGMENT_SUFFIX}"


def parse_segment_name(name: str) -> int | None:
    """The segment id in a file name, or None when it is not exactly 9 digits + ``.q``."""
    if _SEGMENT_NAME.fullmatch(name) is None:
        return None
    return int(name[:SEGMENT_ID_DIGITS])


def list_segment_ids(queue_dir: Path) -> list[int]:
    """The ids of the segment files in a queue directory, ascending (``.q.tmp`` is not one)."""
    ids = (parse_segment_name(entry.name) for entry in queue_dir.iterdir())
    return sorted(segment_id for segment_id in ids if segment_id is not None)


def queue_segment_size(queue_dir: Path) -> int | None:
    """The queue's segment size, taken as its largest segment file's; None without segments.

    The writer creates every segment at the full size (the one it writes to and the
    preallocated next one too), so a sealed segment smaller than this was cut short.
    """
    sizes = []
    for segment_id in list_segment_ids(queue_dir):
        try:
            sizes.append((queue_dir / segment_name(segment_id)).stat().st_size)
        except FileNotFoundError:
            continue  # deleted by retention since the listing
    return max(sizes, default=None)


@dataclass(frozen=True)
class SegmentHeader:
    """The decoded 64-byte header of a segment file."""

    magic: int
    version: int
    segment_id: int
    flags: int

    @property
    def sealed(self) -> bool:
        """True once the writer has finished the segment (it is never written again)."""
        return bool(self.flags & SEG_FLAG_SEALED)


def encode_segment_header(segment_id: int, flags: int = 0) -> bytes:
    """The 64 header bytes of a segment in the current format."""
    return _HEADER.pack(SEG_MAGIC, SEG_VERSION, segment_id, flags)


def mark_sealed(segment: bytearray | mmap.mmap) -> None:
    """Set the sealed flag in the header of a writable segment image, keeping other flags."""
    (flags,) = _FLAGS.unpack_from(segment, _FLAGS_OFFSET)
    _FLAGS.pack_into(segment, _FLAGS_OFFSET, flags | SEG_FLAG_SEALED)


def decode_segment_header(
    data: bytes | bytearray | memoryview, *, source: str, expected_id: int | None = None
) -> SegmentHeader:
    """Decode and check a segment header; `source` names the file in error messages."""
    if len(data) < SEG_HEADER_LEN:
        raise CorruptSegmentError(f"{source}: {len(data)} bytes, shorter than the {SEG_HEADER_LEN}-byte segment header")
    header = SegmentHeader(*_HEADER.unpack_from(data, 0))
    _check_header(header, bytes(data[:4]), source=source, expected_id=expected_id)
    return header


def _check_header(header: SegmentHeader, magic_bytes: bytes, *, source: str, expected_id: int | None) -> None:
    if header.magic != SEG_MAGIC:
        raise CorruptSegmentError(f"{source}: bad magic {magic_bytes.hex(' ')} (expected 30 47 45 53, 'SEG0')")
    if header.version != SEG_VERSION:
        raise CorruptSegmentError(f"{source}: unsupported segment version {header.version} (expected {SEG_VERSION})")
    if expected_id is not None and header.segment_id != expected_id:
        raise CorruptSegmentError(
            f"{source}: header says segment {header.segment_id} but the file name says {expected_id}"
        )


def read_segment_header(path: Path, expected_id: int | None = None) -> SegmentHeader:
    """Read and check a segment header; the id must match `expected_id`, else the file name's id."""
    if expected_id is None:
        expected_id = parse_segment_name(path.name)
    with path.open("rb") as file:
        data = file.read(SEG_HEADER_LEN)
    return decode_segment_header(data, source=str(path), expected_id=expected_id)
