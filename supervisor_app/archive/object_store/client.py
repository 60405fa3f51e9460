"""S3 requests: botocore's credential chain and SigV4 signer, our own HTTP over urllib3, retries, error classes.

Not boto3: its client idles at ~56 MiB in an archiver (the floor is 40) and hides what
the archive relies on (If-None-Match on complete, per-part CRC-32 headers, which failures
to retry). bench/bench_s3_clients.py has the measurements.

Every call retries what may pass later (connection errors, timeouts, 5xx, SlowDown and
other throttling, a part the store received damaged) with exponential backoff and
jitter, then raises ObjectStoreUnavailableError (exit 75); it raises
ObjectStoreAccessError (exit 78) for what only a person can fix (credentials, rights,
bucket, region), naming which.
"""

from __future__ import annotations

import base64
import contextlib
import random
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotocoreConfig
from botocore.session import Session as BotocoreSession

from supervisor_app.archive.object_store.settings import RetryPolicy
from supervisor_app.archive_root import S3Root, StoreSettings
from supervisor_app.chronicle.records import crc32
from supervisor_app.errors import ObjectStoreAccessError, ObjectStoreUnavailableError, PermanentError

DEFAULT_REGION = "us-east-1"
META_HEADER = "x-amz-meta-"
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_MAX_SMALL_OBJECT = 64 * 1024 * 1024
_MESSAGE_CHARS = 300

# Throttling, the store's own failures, and a body that arrived damaged: another attempt may pass.
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_RETRY_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "BadDigest",
        "XAmzContentSHA256Mismatch",
        "IncompleteBody",
        "ExpiredToken",
        "TokenRefreshRequired",
        "OperationAborted",
        "ConditionalRequestConflict",
    }
)
# What the operator must fix, in their words.
_ACCESS_CODES = {
    "InvalidAccessKeyId": "the access key is unknown to the store: check the credentials the AWS chain finds",
    "SignatureDoesNotMatch": "the secret key does not match the access key: check the credentials",
    "AccessDenied": "the credentials are valid but lack the rights this needs on the bucket",
    "AllAccessDisabled": "all access to the bucket is disabled",
    "AccountProblem": "the account has a problem that stops this request",
    "InvalidToken": "the session token is malformed or invalid",
    "NoSuchBucket": "the bucket does not exist (create it, or fix the archive root)",
    "InvalidBucketName": "the bucket name is not valid for this store",
    "PermanentRedirect": "the bucket is in another region or at another endpoint (set object_store.region/endpoint)",
    "AuthorizationHeaderMalformed": "the request was signed for the wrong region (set object_store.region)",
    "IllegalLocationConstraintException": "the bucket is in another region (set object_store.region)",
}


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


class PreconditionFailed(Exception):
    """A conditional write found the key in another state: it exists (If-None-Match) or changed (If-Match)."""


class UploadMissing(Exception):
    """The multipart upload is gone: completed by an earlier attempt of the same call, or aborted."""


@dataclass(frozen=True)
class _Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def error_code(self) -> str:
        return _error_field(self.body, "Code") or str(self.status)

    def error_text(self) -> str:
        code = _error_field(self.body, "Code")
        message = _error_field(self.body, "Message")
        if code is None:
            return f"HTTP {self.status}"
        return f"{code} ({self.status}): {_shorten(message or '')}".rstrip(": ")


def crc32_header(crc: int) -> str:
    """An `x-amz-checksum-crc32` value: the big-endian CRC-32, base64."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


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
        self._settings = settings
        self._log = log
        self._retry = retry or RetryPolicy()
        self._pause = pause
        self._rng = random.Random()
        session = BotocoreSession()
        self.region = settings.region or session.get_config_variable("region") or DEFAULT_REGION
        self._session = session
        self._credentials: Any = None
        self._base_url, self._virtual = _base_url(root.bucket, settings, self.region)
        timeout = urllib3.Timeout(connect=self._retry.connect_timeout_s, read=self._retry.read_timeout_s)
        self._http = urllib3.PoolManager(maxsize=pool_size, block=False, retries=False, timeout=timeout)
        # payload_signing_enabled: small bodies are signed; data goes UNSIGNED-PAYLOAD with a CRC-32 the store checks.
        self._signing = {
            True: BotocoreConfig(s3={"payload_signing_enabled": True}),
            False: BotocoreConfig(s3={"payload_signing_enabled": False}),
        }

    @property
    def endpoint(self) -> str:
        return self._base_url

    def url_of(self, key: str) -> str:
        """The object's s3:// URL, for messages."""
        return f"s3://{self.root.bucket}/{key}"

    # --- operations --------------------------------------------------------------------------------------------------

    def check_access(self, prefix: str) -> None:
        """Prove the bucket exists and the credentials may list it; ObjectStoreAccessError says which if not."""
        query = {"list-type": "2", "max-keys": "1", "prefix": prefix}
        self._request("ListObjectsV2", "GET", "", query=query, shown=prefix)

    def head(self, key: str) -> ObjectInfo | None:
        """The object's size, ETag and user metadata, or None when there is no such key."""
        reply = self._request("HeadObject", "HEAD", key, ok=(200, 404))
        if reply.status == 404:
            return None
        metadata = {
            k.lower()[len(META_HEADER) :]: v for k, v in reply.headers.items() if k.lower().startswith(META_HEADER)
        }
        return ObjectInfo(key, int(reply.headers.get("Content-Length", "0")), reply.headers.get("ETag", ""), metadata)

    def get(self, key: str, *, max_bytes: int = _MAX_SMALL_OBJECT) -> tuple[bytes, str] | None:
        """A small object's bytes and ETag, or None when there is no such key."""
        reply = self._request("GetObject", "GET", key, ok=(200, 404), max_bytes=max_bytes)
        if reply.status == 404:
            return None
        return reply.body, reply.headers.get("ETag", "")

    def open(self, key: str) -> urllib3.BaseHTTPResponse | None:
        """A streaming GET (the caller reads and closes it), or None when there is no such key."""
        return self._stream("GetObject", key)

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
        headers = {"x-amz-checksum-crc32": crc32_header(crc32(body)), **_metadata_headers(metadata)}
        if if_none_match:
            headers["If-None-Match"] = "*"
        if if_match is not None:
            headers["If-Match"] = if_match
        reply = self._request("PutObject", "PUT", key, headers=headers, body=body, sign_body=len(body) <= 1 << 20)
        return reply.headers.get("ETag", "")

    def create_upload(self, key: str, metadata: Mapping[str, str]) -> str:
        """Start a multipart upload whose parts carry CRC-32s; return its upload id."""
        headers = {"x-amz-checksum-algorithm": "CRC32", **_metadata_headers(metadata)}
        reply = self._request("CreateMultipartUpload", "POST", key, query={"uploads": ""}, headers=headers)
        upload_id = _xml_text(reply.body, "UploadId")
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
            reply = self._request("UploadPart", "PUT", key, query=query, headers=headers, body=body, sign_body=False)
        except _NoSuchUpload as exc:
            # Not ours to complete any more; the segment goes again (exit 75), as after any failed upload.
            raise ObjectStoreUnavailableError(
                f"{exc}: the upload was aborted by someone else (another archiver starting on this prefix,"
                " or a lifecycle rule that aborts incomplete uploads); the segment goes again on the next run"
            ) from exc
        return UploadedPart(number, reply.headers.get("ETag", ""), crc, len(body))

    def complete_upload(self, key: str, upload_id: str, parts: Sequence[UploadedPart]) -> str:
        """Complete with If-None-Match: *; PreconditionFailed if the key exists, UploadMissing if the upload is gone."""
        listing = "".join(
            f"<Part><PartNumber>{p.number}</PartNumber><ETag>{_xml_escape(p.etag)}</ETag>"
            f"<ChecksumCRC32>{crc32_header(p.crc32)}</ChecksumCRC32></Part>"
            for p in parts
        )
        document = f'<CompleteMultipartUpload xmlns="{_NS[1:-1]}">{listing}</CompleteMultipartUpload>'.encode()
        try:
            reply = self._request(
                "CompleteMultipartUpload",
                "POST",
                key,
                query={"uploadId": upload_id},
                headers={"If-None-Match": "*", "Content-Type": "application/xml"},
                body=document,
            )
        except _NoSuchUpload as exc:
            raise UploadMissing(str(exc)) from exc
        return _xml_text(reply.body, "ETag") or ""

    def abort_upload(self, key: str, upload_id: str) -> None:
        """Abort an upload and drop its parts; one that is already gone is fine."""
        with contextlib.suppress(_NoSuchUpload):
            self._request("AbortMultipartUpload", "DELETE", key, query={"uploadId": upload_id}, ok=(200, 204))

    def list_uploads(self, prefix: str) -> list[UploadInfo]:
        """Every multipart upload in progress under `prefix`."""
        uploads: list[UploadInfo] = []
        markers: dict[str, str] = {}
        while True:
            query = {"uploads": "", "prefix": prefix, **markers}
            root = _parse_xml(self._request("ListMultipartUploads", "GET", "", query=query, shown=prefix).body)
            for item in root.iter(f"{_NS}Upload"):
                key, upload_id = _child(item, "Key"), _child(item, "UploadId")
                if key is not None and upload_id:
                    uploads.append(UploadInfo(key, upload_id, _child(item, "Initiated") or ""))
            if _child(root, "IsTruncated") != "true":
                return uploads
            markers = {
                "key-marker": _child(root, "NextKeyMarker") or "",
                "upload-id-marker": _child(root, "NextUploadIdMarker") or "",
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
            root = _parse_xml(self._request("ListObjectsV2", "GET", "", query=query, shown=prefix).body)
            for item in root.iter(f"{_NS}Contents"):
                key = _child(item, "Key")
                if key is not None:
                    objects.append(ObjectInfo(key, int(_child(item, "Size") or 0), _child(item, "ETag") or ""))
            prefixes += [p for c in root.iter(f"{_NS}CommonPrefixes") if (p := _child(c, "Prefix"))]
            if _child(root, "IsTruncated") != "true":
                return Listing(tuple(objects), tuple(prefixes))
            token = {"continuation-token": _child(root, "NextContinuationToken") or ""}

    def close(self) -> None:
        self._http.clear()

    # --- one request, retried --------------------------------------------------------------------------------------

    def _request(
        self,
        operation: str,
        method: str,
        key: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | bytearray | memoryview = b"",
        sign_body: bool = True,
        ok: tuple[int, ...] = (200,),
        max_bytes: int = _MAX_SMALL_OBJECT,
        shown: str | None = None,
    ) -> _Reply:
        """One request, retried; `shown` is the key or prefix messages name (default `key`)."""
        url = self._url(key, query or {})
        subject = self.url_of(key if shown is None else shown)
        failure = ""
        for attempt in range(self._retry.attempts):
            if attempt:
                delay = self._retry.delay_s(attempt - 1, self._rng)
                self._log_retry(operation, subject, attempt, delay, failure)
                self._pause(delay)
            try:
                signed = self._sign(method, url, headers or {}, body, sign_body)
                # urllib3 sends a bytearray as it is (its hints say bytes): no copy of a part.
                payload: Any = body or None
                response = self._http.request(
                    method, url, body=payload, headers=signed, preload_content=False, redirect=False
                )
                data = _read_reply(response, max_bytes)
            except urllib3.exceptions.HTTPError as exc:
                failure = f"{type(exc).__name__}: {_shorten(str(exc))}"
                continue
            reply = _Reply(response.status, response.headers, data)
            if reply.status in ok and not _error_in_ok(operation, reply) and reply.error_code() != "NoSuchBucket":
                if len(data) > max_bytes:
                    raise PermanentError(f"{self.url_of(key)}: larger than {max_bytes} bytes")
                return reply
            failure = self._classify(operation, key, reply, subject)
        raise ObjectStoreUnavailableError(
            f"{operation} {subject} at {self._base_url} failed {self._retry.attempts} times; last: {failure}"
        )

    def _stream(self, operation: str, key: str) -> urllib3.BaseHTTPResponse | None:
        url = self._url(key, {})
        failure = ""
        for attempt in range(self._retry.attempts):
            if attempt:
                self._pause(self._retry.delay_s(attempt - 1, self._rng))
            try:
                response = self._http.request(
                    "GET", url, headers=self._sign("GET", url, {}, b"", True), preload_content=False, redirect=False
                )
            except urllib3.exceptions.HTTPError as exc:
                failure = f"{type(exc).__name__}: {_shorten(str(exc))}"
                continue
            if response.status == 200:
                return response
            reply = _Reply(response.status, response.headers, _read_reply(response, 1 << 16))
            if reply.status == 404 and reply.error_code() in ("NoSuchKey", "404"):
                return None
            failure = self._classify(operation, key, reply, self.url_of(key))
        raise ObjectStoreUnavailableError(
            f"{operation} {self.url_of(key)} failed {self._retry.attempts} times; last: {failure}"
        )

    def _log_retry(self, operation: str, subject: str, attempt: int, delay: float, failure: str) -> None:
        if self._log is not None:
            self._log.warning(
                "s3_retry",
                operation=operation,
                object=subject,
                attempt=attempt + 1,
                of=self._retry.attempts,
                delay_s=round(delay, 2),
                error=failure,
            )

    def _classify(self, operation: str, key: str, reply: _Reply, subject: str) -> str:
        """Return the failure's text if another attempt may pass; raise otherwise."""
        code = reply.error_code()
        where = f"{operation} {subject}"
        if reply.status == 412 or code == "PreconditionFailed":
            raise PreconditionFailed(f"{where}: {reply.error_text()}")
        if code == "NoSuchUpload":
            raise _NoSuchUpload(f"{where}: {reply.error_text()}")
        if reply.status in _RETRY_STATUSES or code in _RETRY_CODES:
            return reply.error_text()
        if not reply.body and reply.status in (301, 400, 403, 404):
            code = self._diagnose(key)  # HEAD answers carry no code: ask again with a GET-type request
        if code in _ACCESS_CODES:
            raise ObjectStoreAccessError(
                f"{where} at {self._base_url}: {code}: {_ACCESS_CODES[code]} ({_shorten(_error_field(reply.body, 'Message') or reply.error_text())})"
            )
        raise ObjectStoreAccessError(f"{where} at {self._base_url}: refused: {reply.error_text()}")

    def _diagnose(self, key: str) -> str:
        """The error code a listing of `key`'s prefix gets, to explain a bare HEAD status."""
        url = self._url("", {"list-type": "2", "max-keys": "1", "prefix": key})
        try:
            response = self._http.request("GET", url, headers=self._sign("GET", url, {}, b"", True), redirect=False)
        except urllib3.exceptions.HTTPError:
            return "unknown"
        if response.status == 200:
            return "AccessDenied"  # listing is allowed, reading the object is not
        return _error_field(response.data, "Code") or str(response.status)

    def _sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | bytearray | memoryview, sign_body: bool
    ) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, headers=dict(headers), data=body if sign_body else b"")
        request.context["client_config"] = self._signing[sign_body]
        S3SigV4Auth(self._frozen_credentials(), "s3", self.region).add_auth(request)
        return dict(request.headers.items())

    def _frozen_credentials(self) -> Any:
        if self._credentials is None:
            self._credentials = self._session.get_credentials()
            if self._credentials is None:
                raise ObjectStoreAccessError(
                    "no AWS credentials found (looked in the environment, the shared credentials and config files,"
                    " and the instance or container role): provide some to the archiver's service"
                )
        return self._credentials.get_frozen_credentials()

    def _url(self, key: str, query: Mapping[str, str]) -> str:
        path = (
            "/" + quote(key, safe="/-_.~")
            if self._virtual
            else f"/{self.root.bucket}" + ("/" + quote(key, safe="/-_.~") if key else "")
        )
        if not query:
            return self._base_url + path
        pairs = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()))
        return f"{self._base_url}{path or '/'}?{pairs}"


class _NoSuchUpload(Exception):
    """The store says the upload id is unknown."""


def _base_url(bucket: str, settings: StoreSettings, region: str) -> tuple[str, bool]:
    """(scheme://host[:port] the requests go to, whether the bucket is in the host name)."""
    endpoint = settings.endpoint or f"https://s3.{region}.amazonaws.com"
    parts = urlsplit(endpoint)
    style = settings.addressing_style
    # Dots in a bucket name break TLS for virtual-hosted names; custom endpoints rarely have wildcard DNS.
    virtual = style == "virtual" or (style == "auto" and settings.endpoint is None and "." not in bucket)
    netloc = f"{bucket}.{parts.netloc}" if virtual else parts.netloc
    return f"{parts.scheme}://{netloc}", virtual


def _error_in_ok(operation: str, reply: _Reply) -> bool:
    # S3 may answer CompleteMultipartUpload with 200 and an <Error> body when it fails after starting to reply.
    return (
        operation == "CompleteMultipartUpload" and reply.body.lstrip().startswith(b"<?xml") and b"<Error>" in reply.body
    )


def _metadata_headers(metadata: Mapping[str, str] | None) -> dict[str, str]:
    return {f"{META_HEADER}{k}": v for k, v in (metadata or {}).items()}


def _read_reply(response: urllib3.BaseHTTPResponse, max_bytes: int) -> bytes:
    """Up to `max_bytes` + 1 of the body; the connection goes back to the pool only when the body was read whole."""
    try:
        data = response.read(max_bytes + 1)
    except BaseException:
        response.close()
        raise
    if len(data) > max_bytes:
        response.close()
    else:
        response.release_conn()
    return data


def _parse_xml(body: bytes) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise ObjectStoreUnavailableError(f"the store answered with XML that does not parse: {exc}") from exc


def _xml_text(body: bytes, tag: str) -> str | None:
    return _child(_parse_xml(body), tag)


def _child(element: ET.Element, tag: str) -> str | None:
    found = element.find(f"{_NS}{tag}")
    if found is None:
        found = element.find(tag)  # some stores answer without the namespace
    return None if found is None else (found.text or "")


def _error_field(body: bytes, tag: str) -> str | None:
    if not body.lstrip().startswith(b"<"):
        return None
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    return _child(root, tag)


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "..."


def iter_body(response: urllib3.BaseHTTPResponse, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The body of a streaming response in chunks; the connection is released at the end."""
    try:
        while chunk := response.read(chunk_size):
            yield chunk
    finally:
        response.release_conn()
