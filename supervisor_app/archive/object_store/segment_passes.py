"""A segment's two reads: the survey that dates it before the upload, and the one pass that feeds the uploads."""

from __future__ import annotations

import contextlib
import math
import mmap
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.archive.checksums import Digest
from supervisor_app.archive.object_store.multipart import MultipartWriter
from supervisor_app.archive.seekable_zstd import FrameWriter, SeekIndex
from supervisor_app.archive.sinks import WindowSink
from supervisor_app.archive.staging import StageOptions, compression_threads, read_windows
from supervisor_app.chronicle.records import RecordScanner, RecordSummary, crc32

SURVEY_WINDOW = 8 * 1024 * 1024  # mapped at a time, so the survey adds little to RSS
# Read at a time by the upload pass (into two reused buffers): small beside the part buffers.
PASS_WINDOW = 2 * 1024 * 1024


@dataclass(frozen=True)
class Survey:
    """What the survey learned before the upload: size and CRC-32, and the earliest record by its header."""

    size: int
    crc32: int
    mtime_s: float
    first_timestamp_ns: int | None

    @property
    def digest(self) -> Digest:
        return Digest(self.size, self.crc32)


def survey_segment(path: Path, check_stop: Callable[[], None]) -> Survey:
    """Size, CRC-32 and the earliest record timestamp by header, mapping the file a window at a time."""
    fd = os.open(path, os.O_RDONLY)
    try:
        stat = os.fstat(fd)
        scanner = RecordScanner(stat.st_size, verify_crc=False)
        crc = 0
        for offset in range(0, stat.st_size, SURVEY_WINDOW):
            check_stop()
            length = min(SURVEY_WINDOW, stat.st_size - offset)
            with mmap.mmap(fd, length, access=mmap.ACCESS_READ, offset=offset) as window:
                scanner.feed(window, offset)
                crc = crc32(window, crc)
    finally:
        os.close(fd)
    return Survey(stat.st_size, crc, stat.st_mtime, scanner.summary().min_timestamp_ns)


def stream_segment(
    source: Path,
    options: StageOptions,
    raw: MultipartWriter | None,
    zst: MultipartWriter | None,
    check_stop: Callable[[], None],
    segment_size: int | None,
) -> tuple[RecordSummary, Digest, SeekIndex | None]:
    """The one pass: scan, CRC-32 and compress each window, feeding the uploads as it goes.

    Windows are read into staging's few reused buffers (read_windows); the compressor, like the
    local one, holds as many threads as the host's cap on compression lets it.
    """
    fd = os.open(source, os.O_RDONLY)
    writer: FrameWriter | None = None
    with contextlib.ExitStack() as slots:
        try:
            size = os.fstat(fd).st_size
            sinks: list[WindowSink] = [] if raw is None else [raw]
            if zst is not None:
                threads = slots.enter_context(compression_threads(options, check_stop))
                block_size = options.block_size
                writer = FrameWriter(-1, level=options.level, block_size=block_size, threads=threads, write=zst.feed)
                sinks.append(writer)
            scanner = RecordScanner(size, segment_size=segment_size)
            crc = read = 0
            for window in read_windows(fd, size, _window_size(options.block_size), sinks, check_stop):
                scanner.feed(window, read)
                crc = crc32(window, crc)
                for sink in sinks:
                    sink.feed(window)
                read += len(window)
            index = writer.finish() if writer is not None else None  # its threads end: the slots go back
            writer = None
            return scanner.summary(), Digest(read, crc), index
        finally:
            if writer is not None:
                writer.abort()
            os.close(fd)


def _window_size(block_size: int) -> int:
    """About PASS_WINDOW, in whole zstd blocks (frames never straddle windows) and whole 64-byte rows."""
    unit = math.lcm(block_size, 64)
    return unit * max(1, PASS_WINDOW // unit)
