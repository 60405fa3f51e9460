"""Signed requests to one bucket: botocore's credential chain and SigV4 signer, our own HTTP over urllib3, retries.

Every request retries what may pass later (connection errors, timeouts, 5xx, SlowDown and
other throttling, a part the store received damaged) with exponential backoff and
jitter, then raises ObjectStoreUnavailableError (exit 75); it raises
ObjectStoreAccessError (exit 78) for what only a person can fix (credentials, rights,
bucket, region), naming which.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotocoreConfig
from botocore.session import Session as BotocoreSession

from supervisor_app.archive.object_store.settings import RetryPolicy
from supervisor_app.archive.object_store.wire import (
    ACCESS_CODES,
    MAX_SMALL_OBJECT,
    RETRY_CODES,
    RETRY_STATUSES,
    NoSuchUpload,
    PreconditionFailed,
    Reply,
    error_field,
    error_in_ok,
    read_reply,
    shorten,
)
from supervisor_app.archive_root import S3Root, StoreSettings
from supervisor_app.errors import ObjectStoreAccessError, ObjectStoreUnavailableError, PermanentError

DEFAULT_REGION = "us-east-1"


class S3Transport:
    """One bucket's signed, retried requests over a urllib3 pool; safe to share between threads."""

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
        self._log = log
        self._retry = retry or RetryPolicy()
        self._pause = pause
        self._rng = random.Random()
        session = BotocoreSession()
        self.region = settings.region or session.get_config_variable("region") or DEFAULT_REGION
        self._session = session
        self._credentials: Any = None
        self.base_url, self._virtual = _base_url(root.bucket, settings, self.region)
        timeout = urllib3.Timeout(connect=self._retry.connect_timeout_s, read=self._retry.read_timeout_s)
        self._http = urllib3.PoolManager(maxsize=pool_size, block=False, retries=False, timeout=timeout)
        # payload_signing_enabled: small bodies are signed; data goes UNSIGNED-PAYLOAD with a CRC-32 the store checks.
        self._signing = {
            True: BotocoreConfig(s3={"payload_signing_enabled": True}),
            False: BotocoreConfig(s3={"payload_signing_enabled": False}),
        }

    def url_of(self, key: str) -> str:
        """The object's s3:// URL, for messages."""
        return f"s3://{self.root.bucket}/{key}"

    def close(self) -> None:
        self._http.clear()

    def request(
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
        max_bytes: int = MAX_SMALL_OBJECT,
        shown: str | None = None,
    ) -> Reply:
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
                data = read_reply(response, max_bytes)
            except urllib3.exceptions.HTTPError as exc:
                failure = f"{type(exc).__name__}: {shorten(str(exc))}"
                continue
            reply = Reply(response.status, response.headers, data)
            if reply.status in ok and not error_in_ok(operation, reply) and reply.error_code() != "NoSuchBucket":
                if len(data) > max_bytes:
                    raise PermanentError(f"{self.url_of(key)}: larger than {max_bytes} bytes")
                return reply
            failure = self._classify(operation, key, reply, subject)
        raise ObjectStoreUnavailableError(
            f"{operation} {subject} at {self.base_url} failed {self._retry.attempts} times; last: {failure}"
        )

    def stream(self, operation: str, key: str) -> urllib3.BaseHTTPResponse | None:
        """A GET whose body the caller reads, retried until it starts; None when there is no such key."""
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
                failure = f"{type(exc).__name__}: {shorten(str(exc))}"
                continue
            if response.status == 200:
                return response
            reply = Reply(response.status, response.headers, read_reply(response, 1 << 16))
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

    def _classify(self, operation: str, key: str, reply: Reply, subject: str) -> str:
        """Return the failure's text if another attempt may pass; raise otherwise."""
        code = reply.error_code()
        where = f"{operation} {subject}"
        if reply.status == 412 or code == "PreconditionFailed":
            raise PreconditionFailed(f"{where}: {reply.error_text()}")
        if code == "NoSuchUpload":
            raise NoSuchUpload(f"{where}: {reply.error_text()}")
        if reply.status in RETRY_STATUSES or code in RETRY_CODES:
            return reply.error_text()
        if not reply.body and reply.status in (301, 400, 403, 404):
            code = self._diagnose(key)  # HEAD answers carry no code: ask again with a GET-type request
        if code in ACCESS_CODES:
            raise ObjectStoreAccessError(
                f"{where} at {self.base_url}: {code}: {ACCESS_CODES[code]} ({shorten(error_field(reply.body, 'Message') or reply.error_text())})"
            )
        raise ObjectStoreAccessError(f"{where} at {self.base_url}: refused: {reply.error_text()}")

    def _diagnose(self, key: str) -> str:
        """The error code a listing of `key`'s prefix gets, to explain a bare HEAD status."""
        url = self._url("", {"list-type": "2", "max-keys": "1", "prefix": key})
        try:
            response = self._http.request("GET", url, headers=self._sign("GET", url, {}, b"", True), redirect=False)
        except urllib3.exceptions.HTTPError:
            return "unknown"
        if response.status == 200:
            return "AccessDenied"  # listing is allowed, reading the object is not
        return error_field(response.data, "Code") or str(response.status)

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
            return self.base_url + path
        pairs = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(query.items()))
        return f"{self.base_url}{path or '/'}?{pairs}"


def _base_url(bucket: str, settings: StoreSettings, region: str) -> tuple[str, bool]:
    """(scheme://host[:port] the requests go to, whether the bucket is in the host name)."""
    endpoint = settings.endpoint or f"https://s3.{region}.amazonaws.com"
    parts = urlsplit(endpoint)
    style = settings.addressing_style
    # Dots in a bucket name break TLS for virtual-hosted names; custom endpoints rarely have wildcard DNS.
    virtual = style == "virtual" or (style == "auto" and settings.endpoint is None and "." not in bucket)
    netloc = f"{bucket}.{parts.netloc}" if virtual else parts.netloc
    return f"{parts.scheme}://{netloc}", virtual
