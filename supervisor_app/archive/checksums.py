"""CRC-32 of archived bytes, read back from a `.q` or decoded from a `.q.zst`."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from supervisor_app.archive.seekable_zstd import SeekIndex, iter_frames

if TYPE_CHECKING:
    from concurrent.futures import Executor

_READ_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class Digest:
    """Size and CRC-32 (as zlib.crc32) of a byte stream."""

    size: int
    crc32: int


def file_digest(path: Path) -> Digest:
    crc = size = 0
    with path.open("rb", buffering=0) as f:
        while chunk := f.read(_READ_CHUNK):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
    return Digest(size, crc)


def decoded_digest(zst_path: Path, index: SeekIndex, *, executor: Executor | None = None) -> Digest:
    crc = size = 0
    for block in iter_frames(zst_path, index, executor=executor):
        crc = zlib.crc32(block, crc)
        size += len(block)
    return Digest(size, crc)
