"""S3's wire format: a reply, the error codes that say what to do about it, XML, and the headers we send."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import urllib3

from supervisor_app.errors import ObjectStoreUnavailableError

META_HEADER = "x-amz-meta-"
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
MAX_SMALL_OBJECT = 64 * 1024 * 1024
_MESSAGE_CHARS = 300

# Throttling, the store's own failures, and a body that arrived damaged: another attempt may pass.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRY_CODES = frozenset(
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
ACCESS_CODES = {
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


class PreconditionFailed(Exception):
    """A conditional write found the key in another state: it exists (If-None-Match) or changed (If-Match)."""


class UploadMissing(Exception):
    """The multipart upload is gone: completed by an earlier attempt of the same call, or aborted."""


class NoSuchUpload(Exception):
    """The store says the upload id is unknown."""


@dataclass(frozen=True)
class Reply:
    """A status, headers and (up to a limit) body the store answered."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def error_code(self) -> str:
        return error_field(self.body, "Code") or str(self.status)

    def error_text(self) -> str:
        code = error_field(self.body, "Code")
        message = error_field(self.body, "Message")
        if code is None:
            return f"HTTP {self.status}"
        return f"{code} ({self.status}): {shorten(message or '')}".rstrip(": ")


def crc32_header(crc: int) -> str:
    """An `x-amz-checksum-crc32` value: the big-endian CRC-32, base64."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


def error_in_ok(operation: str, reply: Reply) -> bool:
    # S3 may answer CompleteMultipartUpload with 200 and an <Error> body when it fails after starting to reply.
    return (
        operation == "CompleteMultipartUpload" and reply.body.lstrip().startswith(b"<?xml") and b"<Error>" in reply.body
    )


def metadata_headers(metadata: Mapping[str, str] | None) -> dict[str, str]:
    return {f"{META_HEADER}{k}": v for k, v in (metadata or {}).items()}


def read_reply(response: urllib3.BaseHTTPResponse, max_bytes: int) -> bytes:
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


def parse_xml(body: bytes) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise ObjectStoreUnavailableError(f"the store answered with XML that does not parse: {exc}") from exc


def xml_text(body: bytes, tag: str) -> str | None:
    return child(parse_xml(body), tag)


def child(element: ET.Element, tag: str) -> str | None:
    found = element.find(f"{NS}{tag}")
    if found is None:
        found = element.find(tag)  # some stores answer without the namespace
    return None if found is None else (found.text or "")


def error_field(body: bytes, tag: str) -> str | None:
    if not body.lstrip().startswith(b"<"):
        return None
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    return child(root, tag)


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "..."


def iter_body(response: urllib3.BaseHTTPResponse, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """The body of a streaming response in chunks; the connection is released at the end."""
    try:
        while chunk := response.read(chunk_size):
            yield chunk
    finally:
        response.release_conn()
