"""S3 operations on one bucket (head, get, put, multipart uploads, listings) and the records they answer.

Not boto3: its client idles at ~56 MiB in an archiver (the floor is 40) and hides what
the archive relies on (If-None-Match on complete, per-part CRC-32 headers, which failures
to retry). bench/bench_s3_clients.py has the measurements. The requests themselves, signed
and retried, are transport.py's; the wire format is wire.py's.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import urllib3

from supervisor_app.archive.object_store.settings import RetryPolicy
from supervisor_app.archive.object_store.transport import S3Transport
from supervisor_app.archive.object_store.wire import (
    MAX_SMALL_OBJECT,
    META_HEADER,
    NS,
    NoSuchUpload,
    UploadMissing,
    child,
    crc32_header,
    metadata_headers,
    parse_xml,
    xml_escape,
    xml_text,
)
from supervisor_app.archive_root import S3Root, StoreSettings
from supervisor_app.chronicle.records import crc32
from supervisor_app.errors import ObjectStoreUnavailableError, PermanentError


@dataclass(frozen=True)
class ObjectInfo:
    """What HEAD (or a listing, without metadata) says of an object."""

    key: str
    size: int
    etag: str
    metadata: Mapping[str, str] = field(default_factory=dict)  # x-amz-meta-* without the prefix, keys lowercase


@dataclass(frozen=True)
class UploadInfo:
    """A multipart upload not completed nor aborted."""

    key: str
    upload_id: str
    initiated: str


@dataclass(frozen=True)
class Listing:
    """Objects directly under a prefix, and the "subdirectories" a delimiter folds."""

    objects: tuple[ObjectInfo, ...]
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class UploadedPart:
    number: int
    etag: str
    crc32: int
    size: int


class S3Client:
    """Requests to one bucket; safe to share between threads."""

    def __init__(
        self,
        root: S3Root,
        settings: StoreSettings,
        *,
        log: Any = None,
        retry: RetryPolicy | None = None,
        pool_size: int = 8,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        """`log` hears of each retry (if given); `pause` sleeps between attempts and may raise to abandon the call."""
        self.root = root
        self._transport = S3Transport(root, settings, log=log, retry=retry, pool_size=pool_size, pause=pause)
        self.region = self._transport.region

    @property
    def endpoint(self) -> str:
        return self._transport.base_url

    def url_of(self, key: str) -> str:
        """The object's s3:// URL, for messages."""
        return self._transport.url_of(key)

    # --- operations --------------------------------------------------------------------------------------------------

    def check_access(self, prefix: str) -> None:
        """Prove the bucket exists and the credentials may list it; ObjectStoreAccessError says which if not."""
        query = {"list-type": "2", "max-keys": "1", "prefix": prefix}
        self._transport.request("ListObjectsV2", "GET", "", query=query, shown=prefix)

    def head(self, key: str) -> ObjectInfo | None:
        """The object's size, ETag and user metadata, or None when there is no such key."""
        reply = self._transport.request("HeadObject", "HEAD", key, ok=(200, 404))
        if reply.status == 404:
            return None
        metadata = {
            k.lower()[len(META_HEADER) :]: v for k, v in reply.headers.items() if k.lower().startswith(META_HEADER)
        }
        return ObjectInfo(key, int(reply.headers.get("Content-Length", "0")), reply.headers.get("ETag", ""), metadata)

    def get(self, key: str, *, max_bytes: int = MAX_SMALL_OBJECT) -> tuple[bytes, str] | None:
        """A small object's bytes and ETag, or None when there is no such key."""
        reply = self._transport.request("GetObject", "GET", key, ok=(200, 404), max_bytes=max_bytes)
        if reply.status == 404:
            return None
        return reply.body, reply.headers.get("ETag", "")

    def open(self, key: str) -> urllib3.BaseHTTPResponse | None:
        """A streaming GET (the caller reads and closes it), or None when there is no such key."""
        return self._transport.stream("GetObject", key)

    def put(
        self,
        key: str,
        body: bytes,
        *,
        metadata: Mapping[str, str] | None = None,
        if_none_match: bool = False,
        if_match: str | None = None,
    ) -> str:
        """Write a whole object; return its ETag. PreconditionFailed when the condition does not hold."""
        headers = {"x-amz-checksum-crc32": crc32_header(crc32(body)), **metadata_headers(metadata)}
        if if_none_match:
            headers["If-None-Match"] = "*"
        if if_match is not None:
            headers["If-Match"] = if_match
        reply = self._transport.request(
            "PutObject", "PUT", key, headers=headers, body=body, sign_body=len(body) <= 1 << 20
        )
        return reply.headers.get("ETag", "")

    def create_upload(self, key: str, metadata: Mapping[str, str]) -> str:
        """Start a multipart upload whose parts carry CRC-32s; return its upload id."""
        headers = {"x-amz-checksum-algorithm": "CRC32", **metadata_headers(metadata)}
        reply = self._transport.request("CreateMultipartUpload", "POST", key, query={"uploads": ""}, headers=headers)
        upload_id = xml_text(reply.body, "UploadId")
        if not upload_id:
            raise PermanentError(f"{self.url_of(key)}: CreateMultipartUpload answered without an UploadId")
        return upload_id

    def upload_part(
        self, key: str, upload_id: str, number: int, body: bytes | bytearray | memoryview, crc: int
    ) -> UploadedPart:
        """Send one part; the store checks its CRC-32 (BadDigest, retried, if it arrived damaged).

        An upload aborted meanwhile is ObjectStoreUnavailableError (exit 75): nothing is lost, the segment goes again.
        """
        query = {"partNumber": str(number), "uploadId": upload_id}
        headers = {"x-amz-checksum-crc32": crc32_header(crc)}
        try:
            reply = self._transport.request(
                "UploadPart", "PUT", key, query=query, headers=headers, body=body, sign_body=False
            )
        except NoSuchUpload as exc:
            # Not ours to complete any more; the segment goes again (exit 75), as after any failed upload.
            raise ObjectStoreUnavailableError(
                f"{exc}: the upload was aborted by someone else (another archiver starting on this prefix,"
                " or a lifecycle rule that aborts incomplete uploads); the segment goes again on the next run"
            ) from exc
        return UploadedPart(number, reply.headers.get("ETag", ""), crc, len(body))

    def complete_upload(self, key: str, upload_id: str, parts: Sequence[UploadedPart]) -> str:
        """Complete with If-None-Match: *; PreconditionFailed if the key exists, UploadMissing if the upload is gone."""
        listing = "".join(
            f"<Part><PartNumber>{p.number}</PartNumber><ETag>{xml_escape(p.etag)}</ETag>"
            f"<ChecksumCRC32>{crc32_header(p.crc32)}</ChecksumCRC32></Part>"
            for p in parts
        )
        document = f'<CompleteMultipartUpload xmlns="{NS[1:-1]}">{listing}</CompleteMultipartUpload>'.encode()
        try:
            reply = self._transport.request(
                "CompleteMultipartUpload",
                "POST",
                key,
                query={"uploadId": upload_id},
                headers={"If-None-Match": "*", "Content-Type": "application/xml"},
                body=document,
            )
        except NoSuchUpload as exc:
            raise UploadMissing(str(exc)) from exc
        return xml_text(reply.body, "ETag") or ""

    def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort an upload and drop its parts; one that is already gone is fine."""
        with contextlib.suppress(NoSuchUpload):
            self._transport.request("AbortMultipartUpload", "DELETE", key, query={"uploadId": upload_id}, ok=(200, 204))

    def list_uploads(self, prefix: str) -> list[UploadInfo]:
        """Every multipart upload in progress under `prefix`."""
        uploads: list[UploadInfo] = []
        markers: dict[str, str] = {}
        while True:
            query = {"uploads": "", "prefix": prefix, **markers}
            root = parse_xml(self._transport.request("ListMultipartUploads", "GET", "", query=query, shown=prefix).body)
            for item in root.iter(f"{NS}Upload"):
                key, upload_id = child(item, "Key"), child(item, "UploadId")
                if key is not None and upload_id:
                    uploads.append(UploadInfo(key, upload_id, child(item, "Initiated") or ""))
            if child(root, "IsTruncated") != "true":
                return uploads
            markers = {
                "key-marker": child(root, "NextKeyMarker") or "",
                "upload-id-marker": child(root, "NextUploadIdMarker") or "",
            }

    def list_objects(self, prefix: str, *, delimiter: str | None = "/") -> Listing:
        """Objects under `prefix` (all of them without a delimiter) and, with one, the prefixes it folds."""
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        token: dict[str, str] = {}
        while True:
            query = {"list-type": "2", "prefix": prefix, **token}
            if delimiter:
                query["delimiter"] = delimiter
            root = parse_xml(self._transport.request("ListObjectsV2", "GET", "", query=query, shown=prefix).body)
            for item in root.iter(f"{NS}Contents"):
                key = child(item, "Key")
                if key is not None:
                    objects.append(ObjectInfo(key, int(child(item, "Size") or 0), child(item, "ETag") or ""))
            prefixes += [p for c in root.iter(f"{NS}CommonPrefixes") if (p := child(c, "Prefix"))]
            if child(root, "IsTruncated") != "true":
                return Listing(tuple(objects), tuple(prefixes))
            token = {"continuation-token": child(root, "NextContinuationToken") or ""}

    def close(self) -> None:
        self._transport.close()
