"""Reader position files (``readers/<name>.meta``): the crash-safe double slot, and registering."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import struct
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from supervisor_app.chronicle.segment import SEG_DATA_OFFSET
from supervisor_app.durable import fsync_dir, write_all
from supervisor_app.errors import CorruptPositionError, UnsafePathError

READERS_DIR: Final = "readers"
POSITION_SUFFIX: Final = ".meta"
SLOT_LEN: Final = 40
POSITION_FILE_LEN: Final = 2 * SLOT_LEN
LEGACY_SEGMENT_OFFSET_LEN: Final = 16
LEGACY_OFFSET_LEN: Final = 8
_READ_LIMIT: Final = 4096  # far more than any position file; a larger one is reported by its size
# Never through a symbolic link (it could point anywhere), never blocking on a FIFO.
_OPEN_FLAGS: Final = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK

# segment_id, offset, heartbeat_ns, generation, then CRC-32 of those 32 bytes and 4 zero bytes.
_SLOT_FIELDS: Final = struct.Struct("<QQQQ")
_SLOT_CRC: Final = struct.Struct("<I4x")
_LEGACY_16: Final = struct.Struct("<QQ")
_LEGACY_8: Final = struct.Struct("<Q")


@dataclass(frozen=True)
class ReaderPosition:
    """Where a reader resumes: the next segment to consume and the offset within it."""

    segment_id: int = 0
    offset: int = SEG_DATA_OFFSET
    heartbeat_ns: int = 0
    generation: int = 0


def encode_slot(position: ReaderPosition) -> bytes:
    """The 40 bytes of one slot holding `position`."""
    fields = _SLOT_FIELDS.pack(position.segment_id, position.offset, position.heartbeat_ns, position.generation)
    return fields + _SLOT_CRC.pack(zlib.crc32(fields))


def _decode_slot(slot: bytes) -> ReaderPosition | None:
    """The position in a slot, or None when its CRC does not match (torn or never written)."""
    fields = slot[: _SLOT_FIELDS.size]
    (crc,) = _SLOT_CRC.unpack_from(slot, _SLOT_FIELDS.size)
    if zlib.crc32(fields) != crc:
        return None
    return ReaderPosition(*_SLOT_FIELDS.unpack(fields))


def decode_position(data: bytes, *, source: str) -> ReaderPosition:
    """Decode a position file's bytes (80-byte double slot or a legacy form); `source` names it."""
    if len(data) == POSITION_FILE_LEN:
        return _decode_double_slot(data, source=source)
    if len(data) == LEGACY_SEGMENT_OFFSET_LEN:
        segment_id, offset = _LEGACY_16.unpack(data)
        return ReaderPosition(segment_id=segment_id, offset=offset)
    if len(data) == LEGACY_OFFSET_LEN:
        (offset,) = _LEGACY_8.unpack(data)
        return ReaderPosition(offset=offset)
    raise CorruptPositionError(
        f"{source}: {len(data)} bytes; a reader position file has {POSITION_FILE_LEN}"
        f" (or legacy {LEGACY_SEGMENT_OFFSET_LEN} or {LEGACY_OFFSET_LEN})"
    )


def _decode_double_slot(data: bytes, *, source: str) -> ReaderPosition:
    slots = (_decode_slot(data[:SLOT_LEN]), _decode_slot(data[SLOT_LEN:]))
    valid = [slot for slot in slots if slot is not None]
    if not valid:
        raise CorruptPositionError(f"{source}: neither slot of the reader position has a valid CRC")
    return max(valid, key=lambda position: position.generation)


def load_position(path: Path) -> ReaderPosition:
    """The position stored at `path`; a missing file is the default (segment 0, offset 64)."""
    try:
        fd = _open_position_file(path, os.O_RDONLY)
    except FileNotFoundError:
        return ReaderPosition()
    try:
        return decode_position(_read_all(fd), source=str(path))
    finally:
        os.close(fd)


def store_position(path: Path, position: ReaderPosition) -> ReaderPosition:
    """Store `position` as the next generation, in the older slot, fsynced; return what was stored.

    A missing or legacy-sized file is replaced by a full 80-byte one atomically; a
    corrupt 80-byte file raises CorruptPositionError (a person must look at it).
    """
    try:
        fd = _open_position_file(path, os.O_RDWR)
    except FileNotFoundError:
        return _store(-1, path, b"", position)
    try:
        return _store(fd, path, _read_all(fd), position)
    finally:
        os.close(fd)


def _store(fd: int, path: Path, data: bytes, position: ReaderPosition) -> ReaderPosition:
    """Store `position` over `data`, the file's content read through `fd` (-1: there is no file)."""
    current = decode_position(data, source=str(path)) if data else ReaderPosition()
    stored = replace(position, generation=max(current.generation, position.generation) + 1)
    if fd >= 0 and len(data) == POSITION_FILE_LEN:
        _write_slot_in_place(fd, stored)
    else:
        _create_position_file(path, stored)
    return stored


def _open_position_file(path: Path, flags: int) -> int:
    """An open descriptor of the position file itself: never a symbolic link's target, never a FIFO."""
    try:
        fd = os.open(path, flags | _OPEN_FLAGS)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafePathError(
                f"{path}: is a symbolic link; a reader position file must be a regular file"
            ) from error
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePathError(f"{path}: is not a regular file; a reader position file must be one")
    return fd


def _read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.pread(fd, _READ_LIMIT - len(data), len(data)):
        data += chunk
        if len(data) >= _READ_LIMIT:
            break
    return data


def _slot_offset(generation: int) -> int:
    return (generation % 2) * SLOT_LEN


def _write_slot_in_place(fd: int, position: ReaderPosition) -> None:
    # Only the slot of the other parity is written, so a torn write leaves the
    # slot holding the previous generation valid.
    os.pwrite(fd, encode_slot(position), _slot_offset(position.generation))
    os.fsync(fd)


def _full_file_bytes(position: ReaderPosition) -> bytes:
    # The other slot stays zero: its CRC cannot match, so it is never chosen.
    image = bytearray(POSITION_FILE_LEN)
    offset = _slot_offset(position.generation)
    image[offset : offset + SLOT_LEN] = encode_slot(position)
    return bytes(image)


def _private_tmp_name(name: str) -> str:
    # pid + thread id: concurrent registrants never share a temporary path.
    return f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"


def _write_durable_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_position_file(path: Path, position: ReaderPosition) -> None:
    """Create or replace a full 80-byte position file atomically (tmp, fsync, rename, fsync dir)."""
    tmp = path.with_name(_private_tmp_name(path.name))
    _write_durable_file(tmp, _full_file_bytes(position))
    os.replace(tmp, path)
    fsync_dir(path.parent)


def position_path(queue_dir: Path, name: str) -> Path:
    """Where reader `name` of a queue keeps its position."""
    _check_reader_name(name)
    return queue_dir / READERS_DIR / f"{name}{POSITION_SUFFIX}"


def _check_reader_name(name: str) -> None:
    if not name or name in {".", ".."} or any(char in name for char in "/\\\0"):
        raise ValueError(f"reader name {name!r} is not one safe path component")


def register_reader(queue_dir: Path, name: str, initial: ReaderPosition) -> Path:
    """Ensure ``readers/<name>.meta`` exists; ``readers/`` never appears without it."""
    # The writer's retention deletes the whole backlog while readers/ exists
    # with no live reader in it: an empty readers/ must never be visible.
    path = position_path(queue_dir, name)
    first = replace(initial, generation=initial.generation + 1)
    if not path.parent.exists():
        _publish_readers_dir(queue_dir, path.name, first)
    if not path.exists():  # readers/ was already there, or a concurrent creator won the rename
        _create_position_file(path, first)
    return path


def _publish_readers_dir(queue_dir: Path, file_name: str, first: ReaderPosition) -> None:
    """Build readers/ aside with the position file in it, then rename it in (unless another won)."""
    staging = queue_dir / _private_tmp_name(READERS_DIR)
    _remove_staging(staging)  # left by a crashed run of this same pid
    staging.mkdir()
    try:
        _write_durable_file(staging / file_name, _full_file_bytes(first))
        fsync_dir(staging)
        os.rename(staging, queue_dir / READERS_DIR)
    except OSError as error:
        _remove_staging(staging)
        if error.errno not in (errno.EEXIST, errno.ENOTEMPTY):
            raise
        return  # a concurrent registrant published readers/ first
    fsync_dir(queue_dir)


def _remove_staging(staging: Path) -> None:
    """Remove a staging readers/ (plain files only), as far as possible; not shutil: with bz2 and lzma, ~0.5 MiB."""
    try:  # through a descriptor opened without following a link, as rmtree: never someone else's files
        fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return  # none there; or not a directory, which mkdir then refuses
    try:
        for name in _names_or_none(fd):
            with contextlib.suppress(OSError):
                os.unlink(name, dir_fd=fd)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        staging.rmdir()


def _names_or_none(directory_fd: int) -> list[str]:
    try:
        return os.listdir(directory_fd)
    except OSError:
        return []


def update_position(path: Path, change: Callable[[ReaderPosition], ReaderPosition]) -> ReaderPosition:
    """Read, change and store a registered reader's position under an exclusive flock.

    The archiver's commits and the supervisor's lease heartbeats may come from two
    processes; without the lock a heartbeat could store a position read just before
    a commit and move the reader back.
    """
    fd = _open_position_file(path, os.O_RDWR)  # unregistered: FileNotFoundError
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = _read_all(fd)
        return _store(fd, path, data, change(decode_position(data, source=str(path))))
    finally:
        os.close(fd)


def heartbeat(path: Path, now_ns: int) -> ReaderPosition:
    """Store the same segment and offset with a new heartbeat (never moves the position)."""
    return update_position(path, lambda current: replace(current, heartbeat_ns=now_ns))
