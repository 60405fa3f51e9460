"""Staging's window pipeline: reused window buffers never change bytes a sink still needs; the raw copy's O_DIRECT."""

from __future__ import annotations

import errno
import mmap
import os
import subprocess
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest

from supervisor_app.archive.seekable_zstd import FrameWriter, default_compress_threads
from supervisor_app.archive.sinks import RawFileSink, create_copy_file
from supervisor_app.archive.staging import WINDOW_BLOCKS, StageOptions, read_windows, stage_segment
from supervisor_app.chronicle import segment_name
from tests.archive.archive_checks import decode_whole
from tests.archive.queue_builders import write_queue
from tests.cli.fleet_runner import wait_until

BLOCK = 4096  # 32 KiB windows: a 256 KiB segment is 8 windows


@pytest.fixture
def segment(tmp_path: Path) -> Path:
    queue = tmp_path / "queue"
    write_queue(queue, segments=1, segment_size=256 * 1024)
    return queue / segment_name(0)


@pytest.fixture
def staging(tmp_path: Path) -> Path:
    path = tmp_path / "staging"
    path.mkdir()
    return path


@pytest.mark.parametrize("threads", [1, 2, 3 * WINDOW_BLOCKS])
def test_every_window_reaches_both_files_intact_whatever_the_compression_backlog(
    segment: Path, staging: Path, threads: int
) -> None:
    # With 24 threads, 48 blocks (6 windows) may be in flight: the window buffers must wait for them.
    options = StageOptions(compress=True, retain_raw=True, level=3, block_size=BLOCK, compress_threads=threads)
    staged = stage_segment(segment, 0, staging, options, lambda: None)
    source = segment.read_bytes()
    assert staged.raw_tmp is not None and staged.zst_tmp is not None and staged.index is not None
    assert staged.raw_tmp.read_bytes() == source
    assert decode_whole(staged.zst_tmp) == source
    assert (staged.raw_size, staged.raw_crc32) == (len(source), zlib.crc32(source))
    assert len(staged.index.entries) == len(source) // BLOCK


@pytest.mark.parametrize("size", [0, 1000, 8 * BLOCK, 8 * BLOCK + 64, 3 * 8 * BLOCK - 64])
def test_files_of_any_size_are_copied_whole(segment: Path, staging: Path, tmp_path: Path, size: int) -> None:
    # A truncated segment: one short window, a tail past a window, or none at all.
    cut = tmp_path / segment.name
    cut.write_bytes(segment.read_bytes()[:size])
    options = StageOptions(compress=True, retain_raw=True, level=3, block_size=BLOCK)
    staged = stage_segment(cut, 0, staging, options, lambda: None)
    assert staged.raw_tmp is not None and staged.zst_tmp is not None
    assert staged.raw_tmp.read_bytes() == cut.read_bytes()
    assert decode_whole(staged.zst_tmp) == cut.read_bytes()
    assert staged.raw_size == size


class DeferringSink:
    """Reads each window only when released, as a slow compressor would: stale buffers would show."""

    def __init__(self) -> None:
        self.held: list[memoryview] = []
        self.bytes = bytearray()
        self.ends: list[int] = []

    def feed(self, window: memoryview) -> None:
        self.held.append(window)

    def release(self, end: int) -> None:
        self.ends.append(end)
        while self.held and len(self.bytes) + len(self.held[0]) <= end:
            self.bytes += self.held.pop(0)


def test_a_window_buffer_is_read_into_only_after_the_sinks_released_its_window(segment: Path) -> None:
    sink = DeferringSink()
    size = segment.stat().st_size
    with segment.open("rb") as f:
        for window in read_windows(f.fileno(), size, 8 * BLOCK, [sink], lambda: None):
            assert len(window) == 8 * BLOCK
            sink.feed(window)
    sink.release(size)
    assert bytes(sink.bytes) == segment.read_bytes()
    assert sink.ends[:4] == [0, 0, 8 * BLOCK, 16 * BLOCK]  # two buffers in turn


def test_release_writes_the_frames_of_the_data_before_it(tmp_path: Path) -> None:
    data = os.urandom(8 * BLOCK)
    path = tmp_path / "out.zst"
    with path.open("wb") as out:
        writer = FrameWriter(out.fileno(), level=3, block_size=BLOCK, threads=8)
        writer.feed(data)  # 8 blocks, none over the 16 allowed in flight: nothing is written yet
        assert path.stat().st_size == 0
        writer.release(3 * BLOCK)
        assert decode_whole(path) == data[: 3 * BLOCK]
        writer.finish()
    assert decode_whole(path) == data


def test_a_stop_between_windows_removes_the_temp_files(segment: Path, staging: Path) -> None:
    calls = []

    def stop_at_third_window() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt

    options = StageOptions(compress=True, retain_raw=True, level=3, block_size=BLOCK, compress_threads=4)
    with pytest.raises(KeyboardInterrupt):
        stage_segment(segment, 0, staging, options, stop_at_third_window)
    assert list(staging.iterdir()) == []


def _named_threads(prefix: str) -> list[str]:
    names = (Path(f"/proc/self/task/{tid}/comm").read_text().strip() for tid in os.listdir("/proc/self/task"))
    return sorted(name for name in names if name.startswith(prefix))


def test_the_frame_writer_compresses_on_at_most_its_threads_each_named_for_the_kernel(tmp_path: Path) -> None:
    with (tmp_path / "out.zst").open("wb") as out:
        writer = FrameWriter(out.fileno(), level=19, block_size=BLOCK, threads=3)
        writer.feed(os.urandom(6 * BLOCK))  # level 19: slow enough to still be at work below
        seen = wait_until(lambda: _named_threads("zstd-"), what="named compression threads")
        writer.finish()
    assert set(seen) <= {"zstd-0", "zstd-1", "zstd-2"}
    assert _named_threads("zstd-") == []  # gone from the kernel, not just from Python


def test_the_default_thread_count_is_the_usable_cores_at_most_four() -> None:
    result: list[int] = []

    def pinned() -> None:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # this thread only
        result.append(default_compress_threads())

    thread = threading.Thread(target=pinned)
    thread.start()
    thread.join()
    assert result == [1]
    assert default_compress_threads() == min(4, len(os.sched_getaffinity(0)))


def _resident_bytes(path: Path) -> int:
    """Bytes of `path` in the page cache, by util-linux fincore (mincore(2))."""
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)], capture_output=True)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


def _aligned_windows(data: bytes, size: int) -> list[memoryview]:
    windows = []
    for start in range(0, len(data), size):
        buffer = mmap.mmap(-1, size)  # page-aligned memory, as staging reads into
        buffer.write(data[start : start + size])
        windows.append(memoryview(buffer)[: len(data[start : start + size])])
    return windows


def test_the_raw_copy_bypasses_the_page_cache(tmp_path: Path) -> None:
    data = os.urandom(1 << 20)
    path = tmp_path / "copy.q"
    fd = create_copy_file(path)
    try:
        sink = RawFileSink(fd)
        assert sink.direct  # ext4, xfs and tmpfs (Linux >= 6.6) accept O_DIRECT
        for number, window in enumerate(_aligned_windows(data, 64 * 1024)):
            sink.feed(window)
            sink.release(number * 64 * 1024)  # the window before the previous one, as staging does
        sink.finish()
        assert sink.direct
    finally:
        os.close(fd)
    assert _resident_bytes(path) == 0
    assert path.read_bytes() == data


def _unaligned(data: bytes) -> list[memoryview]:
    return [memoryview(data)[i : i + 33280] for i in range(0, len(data), 33280)]  # 4 KiB blocks + 64 B


def _short_tail(data: bytes) -> list[memoryview]:
    return [*_aligned_windows(data[:65536], 65536), memoryview(data)[65536:]]


@pytest.mark.parametrize("windows", [_unaligned, _short_tail])
def test_windows_off_4k_boundaries_go_through_the_page_cache_intact(tmp_path: Path, windows: Any) -> None:
    data = os.urandom(300_000)
    path = tmp_path / "copy.q"
    fd = create_copy_file(path)
    try:
        sink = RawFileSink(fd)
        for window in windows(data):
            sink.feed(window)
        sink.finish()
        assert not sink.direct
    finally:
        os.close(fd)
    assert path.read_bytes() == data


def test_memory_the_device_refuses_for_o_direct_is_written_through_the_page_cache(tmp_path: Path) -> None:
    # malloc'd memory is 16 bytes off a page: EINVAL where the device wants 512-byte aligned memory.
    data = os.urandom(256 * 1024)
    path = tmp_path / "copy.q"
    fd = create_copy_file(path)
    try:
        sink = RawFileSink(fd)
        window = memoryview(bytearray(data))
        sink.feed(window)
        sink.release(1)
        window[:] = bytes(len(data))  # released: the sink must not read it again
        sink.finish()
    finally:
        os.close(fd)
    assert path.read_bytes() == data


def test_a_failed_direct_write_is_raised_by_finish(tmp_path: Path) -> None:
    path = tmp_path / "copy.q"
    fd = create_copy_file(path)
    try:
        sink = RawFileSink(fd)
        read_only = os.open(path, os.O_RDONLY)
        os.dup2(read_only, fd)  # the writer thread's pwrite now fails: EBADF
        os.close(read_only)
        sink.feed(_aligned_windows(os.urandom(65536), 65536)[0])
        with pytest.raises(OSError) as failure:
            sink.finish()
        assert failure.value.errno == errno.EBADF
    finally:
        os.close(fd)
