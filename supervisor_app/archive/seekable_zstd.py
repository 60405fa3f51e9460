"""Seekable zstd: a `.q.zst` of independent frames, one per block, and its QZSTIDX1 index."""

from __future__ import annotations

import functools
import os
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from supervisor_app.archive.sinks import write_in_pieces
from supervisor_app.errors import CorruptArchiveError
from supervisor_app.thread_names import name_this_thread
from supervisor_app.worker_threads import WorkerThreads

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

    import zstandard

    from supervisor_app.worker_threads import Task

# zstandard is imported where frames are made or read: an idle archiver imports this module for
# its constants and never pays for it (~0.4 MiB, and its library's pages once it compresses).

IDX_MAGIC = b"QZSTIDX1"
IDX_VERSION = 1
IDX_HEADER = struct.Struct("<8sHHIQ")
IDX_ENTRY = struct.Struct("<QQII")
DEFAULT_BLOCK_SIZE = 1024 * 1024
DEFAULT_LEVEL = 3
DEFAULT_THREADS_MAX = 4  # beyond this, an archiver's share of the host matters more than its speed
THREAD_PREFIX = "zstd"  # workers are named zstd-0, zstd-1...: in `top -H`, ps -L and /proc/<pid>/task/*/comm
WORKER_EXIT_WAIT_S = 5.0  # a joined worker is usually gone within microseconds; on a loaded host, up to seconds


@dataclass(frozen=True)
class FrameEntry:
    """Where one block lives, uncompressed and compressed."""

    uncompressed_offset: int
    compressed_offset: int
    compressed_size: int
    uncompressed_size: int


@dataclass(frozen=True)
class SeekIndex:
    """The decoded `.q.zst.idx`: block size and one entry per frame."""

    block_size: int
    entries: tuple[FrameEntry, ...]

    @property
    def uncompressed_size(self) -> int:
        return sum(e.uncompressed_size for e in self.entries)

    @property
    def compressed_size(self) -> int:
        return sum(e.compressed_size for e in self.entries)

    def encode(self) -> bytes:
        header = IDX_HEADER.pack(IDX_MAGIC, IDX_VERSION, IDX_HEADER.size, self.block_size, len(self.entries))
        body = b"".join(
            IDX_ENTRY.pack(e.uncompressed_offset, e.compressed_offset, e.compressed_size, e.uncompressed_size)
            for e in self.entries
        )
        return header + body

    @classmethod
    def decode(cls, data: bytes, *, source: str) -> SeekIndex:
        if len(data) < IDX_HEADER.size:
            raise CorruptArchiveError(f"{source}: index is {len(data)} bytes, shorter than its 24-byte header")
        magic, version, header_len, block_size, count = IDX_HEADER.unpack_from(data)
        if magic != IDX_MAGIC:
            raise CorruptArchiveError(f"{source}: bad index magic {magic!r}, expected {IDX_MAGIC!r}")
        if version != IDX_VERSION or header_len != IDX_HEADER.size:
            raise CorruptArchiveError(f"{source}: unsupported index version {version} / header length {header_len}")
        if len(data) != header_len + count * IDX_ENTRY.size:
            raise CorruptArchiveError(
                f"{source}: index holds {len(data)} bytes, expected {header_len + count * IDX_ENTRY.size} for {count} frames"
            )
        entries = tuple(FrameEntry(*IDX_ENTRY.unpack_from(data, header_len + i * IDX_ENTRY.size)) for i in range(count))
        return cls(block_size=block_size, entries=entries)

    def frame_at(self, uncompressed_offset: int) -> FrameEntry:
        """The frame whose uncompressed range holds `uncompressed_offset` (binary search)."""
        lo, hi = 0, len(self.entries) - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            entry = self.entries[mid]
            if uncompressed_offset < entry.uncompressed_offset:
                hi = mid - 1
            elif uncompressed_offset >= entry.uncompressed_offset + entry.uncompressed_size:
                lo = mid + 1
            else:
                return entry
        raise IndexError(f"offset {uncompressed_offset} is outside the archived data")


def read_index(path: Path) -> SeekIndex:
    return SeekIndex.decode(path.read_bytes(), source=str(path))


def default_compress_threads() -> int:
    """The cores this process may run on, at most DEFAULT_THREADS_MAX."""
    return min(DEFAULT_THREADS_MAX, len(os.sched_getaffinity(0)))


class FrameWriter:
    """Compresses blocks into independent frames on `threads` workers and appends them, in order, to a file.

    With `write`, frames go to that callable instead of `fd` (an object store's multipart upload).
    """

    def __init__(
        self,
        fd: int,
        *,
        level: int,
        block_size: int,
        threads: int | None = None,
        write: Callable[[bytes], object] | None = None,
    ) -> None:
        self._write = write if write is not None else functools.partial(write_in_pieces, fd)
        self._level = level
        self._block_size = block_size
        self._threads = threads or default_compress_threads()
        self._local = threading.local()
        self._workers: list[int] = []  # their kernel thread ids
        self._pool = WorkerThreads(self._threads, THREAD_PREFIX, self._start_worker)
        self._pending: deque[tuple[int, int, Task[bytes]]] = deque()
        self._entries: list[FrameEntry] = []
        self._uncompressed_offset = 0
        self._compressed_offset = 0

    def feed(self, data: bytes | memoryview) -> None:
        """Queue `data` (a whole number of blocks, except at the very end) for compression.

        `data` must stay unchanged until `release` passes its end: blocks are compressed from it in place.
        """
        view = memoryview(data)
        for start in range(0, len(view), self._block_size):
            block = view[start : start + self._block_size]
            future = self._pool.submit(self._compress, block)
            self._pending.append((self._uncompressed_offset, len(block), future))
            self._uncompressed_offset += len(block)
            # Bound memory: a few blocks per thread in flight, never a whole segment.
            while len(self._pending) > 2 * self._threads:
                self._write_oldest()

    def release(self, end: int) -> None:
        """Write every frame of the data fed before offset `end`, so that its buffer may be reused."""
        while self._pending and self._pending[0][0] < end:
            self._write_oldest()

    def finish(self) -> SeekIndex:
        """Write every pending frame and return the index; the caller fsyncs the file."""
        try:
            while self._pending:
                self._write_oldest()
        finally:
            self._end_workers()
        return SeekIndex(block_size=self._block_size, entries=tuple(self._entries))

    def abort(self) -> None:
        for _, _, future in self._pending:
            future.cancel()
        self._pending.clear()
        self._end_workers()

    def _start_worker(self) -> None:
        name_this_thread(threading.current_thread().name)  # zstd-0, zstd-1...: the kernel knows them by it too
        self._workers.append(threading.get_native_id())

    def _end_workers(self) -> None:
        """Return once every worker has left the kernel, not just Python: a cap on threads counts those."""
        self._pool.shutdown()
        deadline = time.monotonic() + WORKER_EXIT_WAIT_S
        for tid in self._workers:
            while os.path.exists(f"/proc/self/task/{tid}") and time.monotonic() < deadline:
                time.sleep(0.001)

    def _compress(self, block: memoryview) -> bytes:
        compressor = getattr(self._local, "compressor", None)
        if compressor is None:
            # A ZstdCompressor is not thread-safe: one per worker thread.
            import zstandard

            compressor = zstandard.ZstdCompressor(level=self._level, write_checksum=True, write_content_size=True)
            self._local.compressor = compressor
        return compressor.compress(block)

    def _write_oldest(self) -> None:
        uncompressed_offset, size, future = self._pending.popleft()
        frame = future.result()
        self._write(frame)
        self._entries.append(FrameEntry(uncompressed_offset, self._compressed_offset, len(frame), size))
        self._compressed_offset += len(frame)


def iter_frames(zst_path: Path, index: SeekIndex, *, executor: Executor | None = None) -> Iterator[bytes]:
    """Decode `zst_path` frame by frame through `index`, in order, checking every size.

    With an executor, frames decode in parallel (zstd releases the GIL) a few ahead of the reader.
    """
    import zstandard

    _check_contiguous(zst_path, index)
    decompressors = threading.local()

    def decode(number: int, entry: FrameEntry, frame: bytes) -> bytes:
        decompressor = getattr(decompressors, "d", None)
        if decompressor is None:
            decompressor = decompressors.d = zstandard.ZstdDecompressor()
        if len(frame) != entry.compressed_size:
            raise CorruptArchiveError(
                f"{zst_path}: frame {number} is truncated ({len(frame)} of {entry.compressed_size} bytes)"
            )
        return decode_frame(decompressor, frame, entry.uncompressed_size, source=f"{zst_path} frame {number}")

    with zst_path.open("rb") as f:
        if executor is None:
            for number, entry in enumerate(index.entries):
                yield decode(number, entry, f.read(entry.compressed_size))
            return
        ahead = 2 * (os.cpu_count() or 1)
        pending: deque[Future[bytes]] = deque()
        for number, entry in enumerate(index.entries):
            pending.append(executor.submit(decode, number, entry, f.read(entry.compressed_size)))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _check_contiguous(zst_path: Path, index: SeekIndex) -> None:
    """Frames must tile both files exactly: no gap, no overlap, nothing after the last frame."""
    uncompressed = compressed = 0
    for number, entry in enumerate(index.entries):
        if (entry.uncompressed_offset, entry.compressed_offset) != (uncompressed, compressed):
            raise CorruptArchiveError(
                f"{zst_path}: index entry {number} starts at ({entry.uncompressed_offset}, {entry.compressed_offset}), "
                f"expected ({uncompressed}, {compressed})"
            )
        uncompressed += entry.uncompressed_size
        compressed += entry.compressed_size
    size = zst_path.stat().st_size
    if size != compressed:
        raise CorruptArchiveError(f"{zst_path}: file is {size} bytes but its index covers {compressed}")


def decode_frame(decompressor: zstandard.ZstdDecompressor, frame: bytes, size: int, *, source: str) -> bytes:
    import zstandard

    try:
        data = decompressor.decompress(frame, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise CorruptArchiveError(f"{source}: {exc}") from exc
    if len(data) != size:
        raise CorruptArchiveError(f"{source}: decodes to {len(data)} bytes, index says {size}")
    return data


def read_at(zst_path: Path, index: SeekIndex, offset: int, size: int) -> bytes:
    """Read `size` uncompressed bytes at `offset`, decoding only the frames that hold them."""
    import zstandard

    decompressor = zstandard.ZstdDecompressor()
    out = bytearray()
    with zst_path.open("rb") as f:
        while size > 0:
            entry = index.frame_at(offset)
            f.seek(entry.compressed_offset)
            block = decode_frame(
                decompressor, f.read(entry.compressed_size), entry.uncompressed_size, source=str(zst_path)
            )
            start = offset - entry.uncompressed_offset
            piece = block[start : start + size]
            out += piece
            offset += len(piece)
            size -= len(piece)
    return bytes(out)


def index_existing_frames(zst_path: Path, block_size: int) -> SeekIndex:
    """Rebuild the index of a `.q.zst` by walking its frames (recovery after a crash lost the `.idx`)."""
    entries = []
    compressed_offset = uncompressed_offset = 0
    with zst_path.open("rb") as f:
        while True:
            f.seek(compressed_offset)
            frame_size, decoded_size = _measure_frame(f, source=f"{zst_path} at byte {compressed_offset}")
            if frame_size == 0:
                break
            entries.append(FrameEntry(uncompressed_offset, compressed_offset, frame_size, decoded_size))
            compressed_offset += frame_size
            uncompressed_offset += decoded_size
    # The file may come from a run with another block size: its largest frame tells which.
    return SeekIndex(block_size=max((e.uncompressed_size for e in entries), default=block_size), entries=tuple(entries))


def _measure_frame(f: BinaryIO, *, source: str, chunk_size: int = 1 << 16) -> tuple[int, int]:
    """Decode one frame from `f`'s position; return (compressed, decoded) sizes, (0, 0) at end of file."""
    import zstandard

    chunk = f.read(chunk_size)
    if not chunk:
        return 0, 0
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    consumed = decoded = 0
    while True:
        try:
            decoded += len(decompressor.decompress(chunk))
        except zstandard.ZstdError as exc:
            raise CorruptArchiveError(f"{source}: {exc}") from exc
        if decompressor.eof:
            return consumed + len(chunk) - len(decompressor.unused_data), decoded
        consumed += len(chunk)
        chunk = f.read(chunk_size)
        if not chunk:
            raise CorruptArchiveError(f"{source}: truncated frame")
