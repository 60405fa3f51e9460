"""What an earlier run left under a segment's keys: the metadata that says which segment, and no overwriting."""

from __future__ import annotations

from collections.abc import Mapping

from supervisor_app.archive.checksums import Digest
from supervisor_app.archive.object_store.client import ObjectInfo, S3Client
from supervisor_app.archive.object_store.frames import check_tiling, index_stream
from supervisor_app.archive.object_store.layout import SegmentKeys
from supervisor_app.archive.object_store.wire import iter_body
from supervisor_app.archive.seekable_zstd import SeekIndex
from supervisor_app.errors import ArchiveConflictError, CorruptArchiveError, ObjectStoreUnavailableError

# User metadata of every data object: the segment it holds, as a rerun checks it.
META_RAW_CRC32 = "raw-crc32"
META_RAW_SIZE = "raw-size"
META_SEGMENT_ID = "segment-id"
META_ZSTD_LEVEL = "zstd-level"
META_BLOCK_SIZE = "zstd-block-size"


def object_metadata(segment_id: int, digest: Digest, **extra: object) -> dict[str, str]:
    """The user metadata a data object carries: which segment, its raw size and CRC-32."""
    metadata = {
        META_SEGMENT_ID: str(segment_id),
        META_RAW_SIZE: str(digest.size),
        META_RAW_CRC32: f"{digest.crc32:08x}",
    }
    return {**metadata, **{k: str(v) for k, v in extra.items()}}


def recorded_digest(metadata: Mapping[str, str]) -> Digest | None:
    """The raw size and CRC-32 an object's metadata records, or None when it records none (or garbage)."""
    try:
        return Digest(int(metadata[META_RAW_SIZE]), int(metadata[META_RAW_CRC32], 16))
    except (KeyError, ValueError):
        return None


def existing_object(client: S3Client, key: str, digest: Digest) -> ObjectInfo | None:
    """The object at `key` if it holds this segment; None if there is none; a conflict if it holds other bytes."""
    info = client.head(key)
    if info is None:
        return None
    theirs = recorded_digest(info.metadata)
    ours = f"this segment is {digest.size} bytes with CRC-32 {digest.crc32:08x}"
    if theirs is None:
        raise ArchiveConflictError(
            f"{client.url_of(key)} already exists without the raw size and CRC-32 metadata an archiver writes"
            f" ({ours}); refusing to overwrite it"
        )
    if theirs != digest:
        raise ArchiveConflictError(
            f"{client.url_of(key)} already exists with different bytes: its metadata records {theirs.size} bytes"
            f" with CRC-32 {theirs.crc32:08x}, {ours}; refusing to overwrite it"
        )
    return info


def existing_index(
    client: S3Client, keys: SegmentKeys, zst: ObjectInfo, digest: Digest, block_size: int
) -> tuple[SeekIndex, bool]:
    """The index of an earlier run's `.q.zst`, and whether its `.idx` is in place; rebuilt from the object if need be."""
    url = client.url_of(keys.zst)
    found = client.get(keys.idx)
    if found is not None:
        try:
            index = SeekIndex.decode(found[0], source=client.url_of(keys.idx))
            check_tiling(index, zst.size, source=url)
            if index.uncompressed_size == digest.size:
                return index, True
        except CorruptArchiveError:
            pass  # rebuilt below; placing it then says the `.idx` in the store is not this one
    # A kill between completing the `.q.zst` and writing its index: read the object once to index it.
    response = client.open(keys.zst)
    if response is None:
        raise ObjectStoreUnavailableError(f"{url} vanished while it was being read")
    index, decoded = index_stream(iter_body(response), block_size, source=url)
    if decoded != digest:
        raise ArchiveConflictError(
            f"{url} decodes to {decoded.size} bytes with CRC-32 {decoded.crc32:08x} although its metadata records"
            f" this segment ({digest.size} bytes with CRC-32 {digest.crc32:08x}); refusing to overwrite it"
        )
    return index, False


def recorded_zstd_level(text: str | None) -> int | None:
    """The level an earlier run's metadata records, or None when it records none a sidecar could hold."""
    try:
        level = None if text is None else int(text)
    except ValueError:
        return None
    return level if level is not None and 1 <= level <= 22 else None
