"""Stage one sealed segment: a single pass that scans, checksums and writes the temp files."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from supervisor_app.archive.seekable_zstd import FrameWriter, SeekIndex
from supervisor_app.chronicle.records import RecordScanner, RecordSummary, crc32
from supervisor_app.durable import TMP_SUFFIX, write_all

# Large enough that per-window overhead vanishes, small enough to keep RSS far below 100 MiB.
WINDOW_BLOCKS = 8


@dataclass(frozen=True)
class StageOptions:
    compress: bool
    retain_raw: bool
    level: int
    block_size: int

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
    writer: FrameWriter | None = None
    try:
        stat = os.fstat(src)
        raw_fd = _create(raw_tmp)
        zst_fd = _create(zst_tmp)
        if zst_fd >= 0:
            writer = FrameWriter(zst_fd, level=options.level, block_size=options.block_size)
        scanner = RecordScanner(stat.st_size, segment_size=segment_size)
        crc = 0
        offset = 0
        while offset < stat.st_size:
            check_stop()
            window = _read_window(src, options.window_size, offset)
            if not window:
                break
            scanner.feed(window, offset)
            crc = crc32(window, crc)
            if raw_fd >= 0:
                write_all(raw_fd, window)
            if writer is not None:
                writer.feed(window)
            offset += len(window)
        index = writer.finish() if writer is not None else None
        writer = None
        # Not fsynced here: publishing does that, overlapped with staging the next segment.
        return StagedSegment(segment_id, offset, crc, stat.st_mtime, scanner.summary(), raw_tmp, zst_tmp, index)
    except BaseException:
        if writer is not None:
            writer.abort()
        for path in (raw_tmp, zst_tmp):
            if path is not None:
                path.unlink(missing_ok=True)
        raise
    finally:
        for fd in (src, raw_fd, zst_fd):
            if fd >= 0:
                os.close(fd)


def _read_window(fd: int, size: int, offset: int) -> bytes:
    """`size` bytes at `offset`, fewer only at the end of the file (a network filesystem may read short)."""
    window = os.pread(fd, size, offset)
    while window and len(window) < size:
        more = os.pread(fd, size - len(window), offset + len(window))
        if not more:
            break
        window += more
    return window


def _create(path: Path | None) -> int:
    if path is None:
        return -1
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
