"""Stage one sealed segment: a single pass that scans, checksums and feeds each window to the temp files' sinks."""

from __future__ import annotations

import contextlib
import math
import mmap
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.archive.compress_slots import CompressSlots
from supervisor_app.archive.seekable_zstd import FrameWriter, SeekIndex, default_compress_threads
from supervisor_app.archive.sinks import RawFileSink, WindowSink, create_copy_file
from supervisor_app.chronicle.records import RecordScanner, RecordSummary, crc32
from supervisor_app.durable import TMP_SUFFIX

# Large enough that per-window overhead vanishes, small enough to keep RSS far below 100 MiB.
WINDOW_BLOCKS = 8
# Windows are read into these few buffers in turn, never into fresh memory: the compressor or
# the raw copy's writer may still be working on the previous window while the next one is read.
WINDOW_BUFFERS = 2


@dataclass(frozen=True)
class StageOptions:
    compress: bool
    retain_raw: bool
    level: int
    block_size: int
    compress_threads: int | None = None  # None: the cores this process may use, at most 4
    compress_slots: CompressSlots | None = None  # the host's cap on compression threads, if any

    @property
    def writes_raw(self) -> bool:
        return self.retain_raw or not self.compress

    @property
    def window_size(self) -> int:
        # Whole zstd blocks (frames never straddle windows) and whole 64-byte rows
        # (record headers never straddle windows), whatever the block size.
        unit = math.lcm(self.block_size, 64)
        return unit * max(1, self.block_size * WINDOW_BLOCKS // unit)


@dataclass(frozen=True)
class StagedSegment:
    """A segment's archive files under temp names (not yet fsynced), with what the pass learned.

    `scan` says what the record check found (`scan.corrupt`): the files hold the bytes as
    they are all the same, since refusing them would leave the segment to retention.
    """

    segment_id: int
    raw_size: int
    raw_crc32: int
    mtime_s: float
    scan: RecordSummary
    raw_tmp: Path | None
    zst_tmp: Path | None
    index: SeekIndex | None

    def discard(self) -> None:
        for path in (self.raw_tmp, self.zst_tmp):
            if path is not None:
                path.unlink(missing_ok=True)


def stage_segment(
    source: Path,
    segment_id: int,
    staging_dir: Path,
    options: StageOptions,
    check_stop: Callable[[], None],
    *,
    segment_size: int | None = None,
) -> StagedSegment:
    """Read `source` once; `check_stop` is called between windows and may raise to abandon the segment.

    `segment_size` is the queue's (chronicle.queue_segment_size): a shorter file is reported truncated.
    """
    name = source.name
    raw_tmp = staging_dir / (name + TMP_SUFFIX) if options.writes_raw else None
    zst_tmp = staging_dir / (name + ".zst" + TMP_SUFFIX) if options.compress else None
    src = os.open(source, os.O_RDONLY)
    raw_fd = zst_fd = -1
    raw: RawFileSink | None = None
    writer: FrameWriter | None = None
    slots = contextlib.ExitStack()
    try:
        stat = os.fstat(src)
        raw_fd = -1 if raw_tmp is None else create_copy_file(raw_tmp)
        zst_fd = _create(zst_tmp)
        sinks: list[WindowSink] = []
        if raw_fd >= 0:
            raw = RawFileSink(raw_fd)
            sinks.append(raw)
        if zst_fd >= 0:
            threads = slots.enter_context(compression_threads(options, check_stop))
            writer = FrameWriter(zst_fd, level=options.level, block_size=options.block_size, threads=threads)
            sinks.append(writer)
        scanner = RecordScanner(stat.st_size, segment_size=segment_size)
        crc = 0
        offset = 0
        for window in read_windows(src, stat.st_size, options.window_size, sinks, check_stop):
            scanner.feed(window, offset)
            crc = crc32(window, crc)
            for sink in sinks:
                sink.feed(window)
            offset += len(window)
        if raw is not None:
            raw.finish()
        index = writer.finish() if writer is not None else None
        writer = None
        # Not fsynced here: publishing does that, overlapped with staging the next segment.
        return StagedSegment(segment_id, offset, crc, stat.st_mtime, scanner.summary(), raw_tmp, zst_tmp, index)
    except BaseException:
        if raw is not None:
            raw.abort()
        if writer is not None:
            writer.abort()
        for path in (raw_tmp, zst_tmp):
            if path is not None:
                path.unlink(missing_ok=True)
        raise
    finally:
        slots.close()  # the compression threads have ended: finish() or abort() joined them
        for fd in (src, raw_fd, zst_fd):
            if fd >= 0:
                os.close(fd)


@contextlib.contextmanager
def compression_threads(options: StageOptions, check_stop: Callable[[], None]) -> Iterator[int]:
    """How many threads to compress with: as many as asked, or fewer while the host's cap has fewer free."""
    wanted = options.compress_threads or default_compress_threads()
    if options.compress_slots is None:
        yield wanted
    else:
        with options.compress_slots.take(wanted, check_stop) as granted:
            yield granted


def read_windows(
    fd: int, size: int, window_size: int, sinks: Sequence[WindowSink], check_stop: Callable[[], None]
) -> Iterator[memoryview]:
    """The file's first `size` bytes as consecutive windows, read in turn into buffers the sinks have released."""
    count = min(WINDOW_BUFFERS, -(-size // window_size))  # a small file needs one window, smaller than usual
    # Anonymous maps: page-aligned, as O_DIRECT wants its memory.
    buffers = [memoryview(mmap.mmap(-1, min(window_size, size))) for _ in range(count)]
    ends = [0] * len(buffers)  # where the window each buffer holds ends in the segment
    offset = 0
    turn = 0
    while offset < size:
        check_stop()
        for sink in sinks:
            sink.release(ends[turn])
        length = _read_into(fd, buffers[turn][: size - offset], offset)
        if not length:
            return
        yield buffers[turn][:length]
        offset += length
        ends[turn] = offset
        turn = (turn + 1) % len(buffers)


def _read_into(fd: int, buffer: memoryview, offset: int) -> int:
    """Fill `buffer` from `offset`; fewer bytes only at the end of the file (a network filesystem may read short)."""
    filled = 0
    while filled < len(buffer):
        got = os.preadv(fd, [buffer[filled:]], offset + filled)
        if not got:
            break
        filled += got
    return filled


def _create(path: Path | None) -> int:
    if path is None:
        return -1
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
