"""Seekable zstd read from a byte stream (an object's GET body): decode through an index, or rebuild the index."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import zstandard

from supervisor_app.archive.checksums import Digest
from supervisor_app.archive.seekable_zstd import FrameEntry, SeekIndex, decode_frame
from supervisor_app.chronicle.records import crc32
from supervisor_app.errors import CorruptArchiveError


class _Chunks:
    """Exact-size reads over an iterable of chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = bytearray()

    def take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def decode_stream(chunks: Iterable[bytes], index: SeekIndex, *, source: str, size: int) -> Iterator[bytes]:
    """The decoded blocks of a `.q.zst` of `size` bytes read as `chunks`, checked against `index`."""
    check_tiling(index, size, source=source)
    reader = _Chunks(chunks)
    decompressor = zstandard.ZstdDecompressor()
    for number, entry in enumerate(index.entries):
        frame = reader.take(entry.compressed_size)
        if len(frame) != entry.compressed_size:
            raise CorruptArchiveError(
                f"{source}: frame {number} is truncated ({len(frame)} of {entry.compressed_size} bytes)"
            )
        yield decode_frame(decompressor, frame, entry.uncompressed_size, source=f"{source} frame {number}")


def check_tiling(index: SeekIndex, size: int, *, source: str) -> None:
    """Frames must tile the object and the segment exactly: no gap, no overlap, nothing after the last frame."""
    uncompressed = compressed = 0
    for number, entry in enumerate(index.entries):
        if (entry.uncompressed_offset, entry.compressed_offset) != (uncompressed, compressed):
            raise CorruptArchiveError(
                f"{source}: index entry {number} starts at ({entry.uncompressed_offset}, {entry.compressed_offset}),"
                f" expected ({uncompressed}, {compressed})"
            )
        uncompressed += entry.uncompressed_size
        compressed += entry.compressed_size
    if compressed != size:
        raise CorruptArchiveError(f"{source}: object is {size} bytes but its index covers {compressed}")


def index_stream(chunks: Iterable[bytes], block_size: int, *, source: str) -> tuple[SeekIndex, Digest]:
    """Rebuild the index of a `.q.zst` read as `chunks` by walking its frames; also the digest it decodes to."""
    decompressor = zstandard.ZstdDecompressor()
    frame = decompressor.decompressobj()
    entries: list[FrameEntry] = []
    compressed = uncompressed = 0  # where the current frame starts
    frame_in = frame_out = 0  # bytes of the current frame fed and decoded so far
    crc = 0
    for chunk in chunks:
        data = chunk
        while data:
            try:
                out = frame.decompress(data)
            except zstandard.ZstdError as exc:
                raise CorruptArchiveError(f"{source} at byte {compressed}: {exc}") from exc
            crc = crc32(out, crc)
            frame_out += len(out)
            if not frame.eof:
                frame_in += len(data)
                break
            rest = frame.unused_data
            frame_in += len(data) - len(rest)
            entries.append(FrameEntry(uncompressed, compressed, frame_in, frame_out))
            compressed, uncompressed = compressed + frame_in, uncompressed + frame_out
            frame_in = frame_out = 0
            frame = decompressor.decompressobj()
            data = rest
    if frame_in:
        raise CorruptArchiveError(f"{source} at byte {compressed}: truncated frame")
    largest = max((e.uncompressed_size for e in entries), default=block_size)
    return SeekIndex(block_size=largest, entries=tuple(entries)), Digest(uncompressed, crc)
