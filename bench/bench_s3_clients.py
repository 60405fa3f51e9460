"""Choose the S3 client library by measurement, against `aws s3 cp`, on a local SeaweedFS.

    .venv/bin/python bench/bench_s3_clients.py [--size-mib 1024] [--part-mib 8,16] [--in-flight 4] [--repeat 3]
        [--clients boto3,boto3-transfer,obstore,minio,botocore-sigv4,awscrt] [--errors] [--workdir DIR]

Needs, besides the test extras: `pip install obstore minio awscrt awscli`.

Candidates: boto3 (our own multipart loop on the low-level client), boto3-transfer (its
s3transfer manager reading a stream), obstore (Rust object_store), minio (minio-py),
botocore-sigv4 (botocore's credential chain and SigV4 signer only, our own requests over
urllib3), awscrt (the AWS Common Runtime's native S3 client, boto3[crt]'s engine).

Each measurement runs in a fresh process that first imports the archiver (so RSS figures
are what an archiver would pay), then:
  import   the library: wall time, VmRSS it adds;
  idle     a client holding one warm connection (one HEAD done), after 1 s: VmRSS;
  upload   a multipart upload of a byte stream produced part by part in memory (as the
           scan/compression produces it), `--in-flight` parts at most in flight: MiB/s,
           CPU seconds of the process, VmHWM (peak RSS);
  head     HEAD of the object, user metadata read back: median latency of 20.
The baseline is `aws s3 cp` (awscli, its default 8 MiB parts and 10 requests in flight) of
the same bytes from a file; its peak RSS and CPU from /usr/bin/time. Credentials reach every
library through the environment (AWS_ACCESS_KEY_ID, ...), the first source of the standard
chain; shared files and instance metadata are pointed away. `--errors` also prints how each
library reports a wrong secret, an unknown key, a missing bucket and a failed If-None-Match.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

# The SeaweedFS harness lives with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MiB = 1024 * 1024
BUCKET = "bench"
METADATA = {"crc32": "1c291ca3", "raw-size": "1073741824"}
HEAD_REPEAT = 20
# awscrt refuses less than 1 GiB; it is a cap on its buffer pool, which it fills lazily.
CRT_MEMORY_LIMIT = 1024 * MiB
# Two parts (5 MiB and 1 MiB) sent over an existing key with If-None-Match: * on the complete.
MULTIPART_OVER_EXISTING = (6 * MiB, 5 * MiB)
STANDARD_ATTRIBUTES = ("Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language", "Cache-Control")
CLIENTS = ("boto3", "boto3-transfer", "obstore", "minio", "botocore-sigv4", "awscrt")


def vm_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stream(size: int, part: int) -> Iterator[bytearray]:
    """`size` bytes in fresh `part`-sized buffers filled in place, as a compressor's output is gathered into parts.

    The bytes: 1 MiB of random bytes repeated, each MiB stamped with its index.
    """
    pool = os.urandom(MiB)
    for start in range(0, size, part):
        buffer = bytearray(min(part, size - start))
        view = memoryview(buffer)
        for offset in range(0, len(buffer), MiB):
            chunk = view[offset : offset + MiB]
            chunk[:] = pool[: len(chunk)]
            stamp = (start + offset).to_bytes(8, "little")[: len(chunk)]
            chunk[: len(stamp)] = stamp
        del view, chunk
        yield buffer


class StreamReader:
    """A read()-able view of `stream`, for libraries that pull from a file-like object."""

    def __init__(self, parts: Iterator[bytearray]) -> None:
        self._parts = parts
        self._buffer = memoryview(b"")

    def read(self, n: int = -1) -> bytes:
        chunks: list[bytes] = []
        wanted = n if n >= 0 else sys.maxsize
        while wanted > 0:
            if not self._buffer:
                try:
                    self._buffer = memoryview(next(self._parts))
                except StopIteration:
                    break
            chunk = self._buffer[:wanted]
            self._buffer = self._buffer[len(chunk) :]
            chunks.append(bytes(chunk))
            wanted -= len(chunk)
        return b"".join(chunks)

    def readable(self) -> bool:
        return True


# --- the libraries, each behind the same four steps --------------------------------------------------------------


class Boto3:
    """Low-level client; our own loop keeps `in_flight` UploadPart calls going (as the archiver would)."""

    def __init__(self, endpoint: str, in_flight: int) -> None:
        import boto3
        import botocore.config

        config = botocore.config.Config(
            max_pool_connections=in_flight + 2, retries={"mode": "standard"}, s3={"addressing_style": "path"}
        )
        self.client = boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)
        self.in_flight = in_flight

    def head(self, key: str) -> dict[str, str]:
        return dict(self.client.head_object(Bucket=BUCKET, Key=key)["Metadata"])

    def upload(self, key: str, parts: Iterator[bytearray]) -> None:
        client = self.client
        upload_id = client.create_multipart_upload(Bucket=BUCKET, Key=key, Metadata=METADATA)["UploadId"]

        def send(number: int, body: bytearray) -> dict[str, Any]:
            etag = client.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=body)["ETag"]
            return {"PartNumber": number, "ETag": etag}

        done: list[dict[str, Any]] = []
        with ThreadPoolExecutor(self.in_flight) as pool:
            pending: set[Future[dict[str, Any]]] = set()
            for number, body in enumerate(parts, 1):
                if len(pending) >= self.in_flight:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    done.extend(f.result() for f in finished)
                pending.add(pool.submit(send, number, body))
                del body
            done.extend(f.result() for f in pending)
        done.sort(key=lambda p: p["PartNumber"])
        client.complete_multipart_upload(
            Bucket=BUCKET, Key=key, UploadId=upload_id, MultipartUpload={"Parts": done}, IfNoneMatch="*"
        )

    def errors(self, endpoint: str) -> dict[str, str]:
        import boto3
        import botocore.exceptions

        def attempt(call: Callable[[], object]) -> str:
            try:
                call()
                return "no error"
            except botocore.exceptions.ClientError as error:
                status = error.response["ResponseMetadata"]["HTTPStatusCode"]
                return f"ClientError {error.response['Error']['Code']} ({status})"

        def client(access: str, secret: str) -> Any:
            return boto3.session.Session().client(
                "s3", endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret
            )

        good = self.client
        wrong_secret = client(os.environ["AWS_ACCESS_KEY_ID"], "wrong")
        unknown_key = client("UNKNOWNKEY", "x")
        good.put_object(Bucket=BUCKET, Key="exists", Body=b"x")
        return {
            "wrong secret": attempt(lambda: wrong_secret.list_objects_v2(Bucket=BUCKET, MaxKeys=1)),
            "unknown key": attempt(lambda: unknown_key.list_objects_v2(Bucket=BUCKET, MaxKeys=1)),
            "missing bucket": attempt(lambda: good.put_object(Bucket="no-such-bucket", Key="k", Body=b"x")),
            "If-None-Match": attempt(lambda: good.put_object(Bucket=BUCKET, Key="exists", Body=b"y", IfNoneMatch="*")),
            # upload() asks If-None-Match on complete where the library lets it; "no error" = overwritten.
            "If-None-Match, multipart": attempt(lambda: self.upload("exists", stream(*MULTIPART_OVER_EXISTING))),
        }


class Boto3Transfer(Boto3):
    """boto3's own transfer manager (s3transfer) reading a non-seekable stream; it cannot send If-None-Match."""

    def upload(self, key: str, parts: Iterator[bytearray]) -> None:
        from boto3.s3.transfer import TransferConfig

        first = next(parts)
        part = len(first)
        config = TransferConfig(multipart_threshold=part, multipart_chunksize=part, max_concurrency=self.in_flight)
        # Not a constructor argument in boto3's subclass; s3transfer's default would hold 10 parts.
        config.max_in_memory_upload_chunks = self.in_flight

        def chained() -> Iterator[bytearray]:
            yield first
            yield from parts

        reader = StreamReader(chained())
        self.client.upload_fileobj(reader, BUCKET, key, ExtraArgs={"Metadata": METADATA}, Config=config)


class Obstore:
    """obstore (Rust object_store): put() of an iterator is a multipart upload with `max_concurrency` parts."""

    def __init__(self, endpoint: str, in_flight: int) -> None:
        from obstore.store import S3Store

        # Credentials and region from the environment; the endpoint is plain http on loopback.
        self.store = S3Store(BUCKET, endpoint=endpoint, client_options={"allow_http": True})
        self.in_flight = in_flight

    def head(self, key: str) -> dict[str, str]:
        import obstore

        # head() returns no user metadata; a GET with head=True returns it as attributes.
        attributes = obstore.get(self.store, key, options={"head": True}).attributes
        return {k: v for k, v in attributes.items() if k not in STANDARD_ATTRIBUTES}

    def upload(self, key: str, parts: Iterator[bytearray]) -> None:
        import obstore

        first = next(parts)

        def chained() -> Iterator[bytearray]:
            yield first
            yield from parts

        obstore.put(
            self.store,
            key,
            chained(),
            attributes=dict(METADATA),
            chunk_size=len(first),
            max_concurrency=self.in_flight,
        )

    def errors(self, endpoint: str) -> dict[str, str]:
        import obstore
        from obstore.store import S3Store

        def attempt(call: Callable[[], object]) -> str:
            try:
                call()
                return "no error"
            except Exception as error:
                return f"{type(error).__name__}: {' '.join(str(error).split())[:400]}"

        def store(bucket: str, **credentials: str) -> Any:
            return S3Store(bucket, endpoint=endpoint, client_options={"allow_http": True}, **credentials)  # type: ignore[arg-type]

        access = os.environ["AWS_ACCESS_KEY_ID"]
        wrong_secret = store(BUCKET, access_key_id=access, secret_access_key="wrong")
        unknown_key = store(BUCKET, access_key_id="UNKNOWNKEY", secret_access_key="x")
        obstore.put(self.store, "exists", b"x")
        return {
            "wrong secret": attempt(lambda: obstore.list_with_delimiter(wrong_secret)),
            "unknown key": attempt(lambda: obstore.list_with_delimiter(unknown_key)),
            "missing bucket": attempt(lambda: obstore.put(store("no-such-bucket"), "k", b"x")),
            "If-None-Match": attempt(lambda: obstore.put(self.store, "exists", b"y", mode="create")),
            # mode="create" turns multipart off: the whole stream is gathered in memory for one PUT.
            "If-None-Match, multipart": attempt(
                lambda: obstore.put(self.store, "exists", stream(*MULTIPART_OVER_EXISTING), mode="create")
            ),
        }


class Minio:
    """minio-py: put_object() of a stream of unknown length, `num_parallel_uploads` parts at a time."""

    def __init__(self, endpoint: str, in_flight: int) -> None:
        import minio
        from minio.credentials.providers import EnvAWSProvider

        host = endpoint.removeprefix("http://")
        region = os.environ["AWS_REGION"]
        self.client = minio.Minio(host, secure=False, region=region, credentials=EnvAWSProvider())
        self.in_flight = in_flight

    def head(self, key: str) -> dict[str, str]:
        stat = self.client.stat_object(BUCKET, key)
        assert stat.metadata is not None
        prefix = "x-amz-meta-"
        return {k.lower().removeprefix(prefix): v for k, v in stat.metadata.items() if k.lower().startswith(prefix)}

    def upload(self, key: str, parts: Iterator[bytearray]) -> None:
        first = next(parts)

        def chained() -> Iterator[bytearray]:
            yield first
            yield from parts

        self.client.put_object(
            BUCKET,
            key,
            StreamReader(chained()),  # type: ignore[arg-type]
            length=-1,
            part_size=len(first),
            num_parallel_uploads=self.in_flight,
            metadata=dict(METADATA),
        )

    def errors(self, endpoint: str) -> dict[str, str]:
        import io

        import minio

        def attempt(call: Callable[[], object]) -> str:
            try:
                call()
                return "no error"
            except minio.error.S3Error as error:
                return f"S3Error {error.code} ({error.response.status})"
            except Exception as error:
                return f"{type(error).__name__}: {' '.join(str(error).split())[:400]}"

        host = endpoint.removeprefix("http://")
        region = os.environ["AWS_REGION"]
        access = os.environ["AWS_ACCESS_KEY_ID"]
        wrong_secret = minio.Minio(host, access_key=access, secret_key="wrong", secure=False, region=region)
        unknown_key = minio.Minio(host, access_key="UNKNOWNKEY", secret_key="x", secure=False, region=region)
        self.client.put_object(BUCKET, "exists", io.BytesIO(b"x"), 1)
        conditional = {"If-None-Match": "*"}
        return {
            "wrong secret": attempt(lambda: list(wrong_secret.list_objects(BUCKET))),
            "unknown key": attempt(lambda: list(unknown_key.list_objects(BUCKET))),
            "missing bucket": attempt(lambda: self.client.put_object("no-such-bucket", "k", io.BytesIO(b"x"), 1)),
            # Its public put_object takes no extra headers: metadata keys become x-amz-meta-*.
            "If-None-Match": attempt(
                lambda: self.client.put_object(BUCKET, "exists", io.BytesIO(b"y"), 1, metadata=conditional)  # type: ignore[arg-type]
            ),
            "If-None-Match, multipart": attempt(lambda: self.upload("exists", stream(*MULTIPART_OVER_EXISTING))),
        }


class BotocoreSigV4:
    """botocore's credential chain and SigV4 signer only (no service model), our own requests over urllib3.

    Parts go as UNSIGNED-PAYLOAD with an x-amz-checksum-crc32 the server verifies: what the
    SDKs send over https, and no SHA-256 pass over the bytes.
    """

    def __init__(self, endpoint: str, in_flight: int) -> None:
        import botocore.session
        import urllib3

        session = botocore.session.Session()
        self.credentials = session.get_credentials()  # env, shared files, SSO, process, container, IMDS
        self.region = session.get_config_variable("region") or os.environ["AWS_REGION"]
        self.endpoint = endpoint
        self.http = urllib3.PoolManager(maxsize=in_flight + 2)
        self.in_flight = in_flight

    def request(
        self,
        method: str,
        key: str,
        query: dict[str, str] | None = None,
        body: bytes | bytearray = b"",
        headers: dict | None = None,
        bucket: str = BUCKET,
    ) -> Any:
        from urllib.parse import quote, urlencode

        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest

        url = f"{self.endpoint}/{bucket}/{quote(key)}" if key else f"{self.endpoint}/{bucket}"
        if query:
            url += "?" + urlencode(query, quote_via=quote)
        headers = {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", **(headers or {})}
        request = AWSRequest(method=method, url=url, data=body, headers=headers)
        S3SigV4Auth(self.credentials.get_frozen_credentials(), "s3", self.region).add_auth(request)
        # urllib3 sends a bytearray as it is (its hints say bytes): no copy of the part.
        payload: Any = body or None
        return self.http.request(method, url, body=payload, headers=dict(request.headers.items()), retries=False)

    def check(self, response: Any) -> Any:
        import xml.etree.ElementTree as ET

        if response.status >= 300:
            code = ET.fromstring(response.data).findtext("Code") if response.data else str(response.status)
            raise RuntimeError(f"{code} ({response.status})")
        return response

    def head(self, key: str) -> dict[str, str]:
        response = self.check(self.request("HEAD", key))
        prefix = "x-amz-meta-"
        return {k.lower().removeprefix(prefix): v for k, v in response.headers.items() if k.lower().startswith(prefix)}

    def upload(self, key: str, parts: Iterator[bytearray]) -> None:
        import base64
        import xml.etree.ElementTree as ET
        import zlib

        meta = {f"x-amz-meta-{k}": v for k, v in METADATA.items()}
        created = self.check(self.request("POST", key, {"uploads": ""}, headers=meta))
        ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
        root = ET.fromstring(created.data)
        upload_id = root.findtext("s3:UploadId", namespaces=ns) or root.findtext("UploadId")
        assert upload_id

        def send(number: int, body: bytearray) -> tuple[int, str]:
            crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
            query = {"partNumber": str(number), "uploadId": upload_id}
            response = self.check(self.request("PUT", key, query, body, {"x-amz-checksum-crc32": crc}))
            return number, response.headers["ETag"]

        done: list[tuple[int, str]] = []
        with ThreadPoolExecutor(self.in_flight) as pool:
            pending: set[Future[tuple[int, str]]] = set()
            for number, body in enumerate(parts, 1):
                if len(pending) >= self.in_flight:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    done.extend(f.result() for f in finished)
                pending.add(pool.submit(send, number, body))
                del body
            done.extend(f.result() for f in pending)
        listing = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in sorted(done))
        document = f"<CompleteMultipartUpload>{listing}</CompleteMultipartUpload>".encode()
        self.check(self.request("POST", key, {"uploadId": upload_id}, document, {"If-None-Match": "*"}))

    def errors(self, endpoint: str) -> dict[str, str]:
        from botocore.credentials import Credentials

        def attempt(call: Callable[[], object]) -> str:
            try:
                call()
                return "no error"
            except RuntimeError as error:
                return f"{error}"

        def signer(access: str, secret: str) -> BotocoreSigV4:
            other = BotocoreSigV4(endpoint, 1)
            other.credentials = Credentials(access, secret)
            return other

        wrong_secret = signer(os.environ["AWS_ACCESS_KEY_ID"], "wrong")
        unknown_key = signer("UNKNOWNKEY", "x")
        self.check(self.request("PUT", "exists", body=b"x"))
        listing = {"list-type": "2", "max-keys": "1"}
        return {
            "wrong secret": attempt(lambda: wrong_secret.check(wrong_secret.request("GET", "", listing))),
            "unknown key": attempt(lambda: unknown_key.check(unknown_key.request("GET", "", listing))),
            "missing bucket": attempt(lambda: self.check(self.request("PUT", "k", body=b"x", bucket="no-such-bucket"))),
            "If-None-Match": attempt(
                lambda: self.check(self.request("PUT", "exists", body=b"y", headers={"If-None-Match": "*"}))
            ),
            "If-None-Match, multipart": attempt(lambda: self.upload("exists", stream(*MULTIPART_OVER_EXISTING))),
        }


class AwsCrt:
    """awscrt's native S3 client (boto3[crt]'s engine): it cuts a body stream of unknown length into parts itself."""

    def __init__(self, endpoint: str, in_flight: int) -> None:
        from awscrt.auth import AwsCredentialsProvider
        from awscrt.io import ClientBootstrap, DefaultHostResolver, EventLoopGroup
        from awscrt.s3 import S3Client, S3RequestTlsMode

        group = EventLoopGroup()
        bootstrap = ClientBootstrap(group, DefaultHostResolver(group))
        self.host = endpoint.removeprefix("http://")
        self.in_flight = in_flight
        self.client = S3Client(
            bootstrap=bootstrap,
            region=os.environ["AWS_REGION"],
            credential_provider=AwsCredentialsProvider.new_default_chain(bootstrap),
            tls_mode=S3RequestTlsMode.DISABLED,
            max_active_connections_override=in_flight,
            memory_limit=CRT_MEMORY_LIMIT,
        )

    def request(
        self,
        method: str,
        key: str,
        headers: list[tuple[str, str]],
        body: Any = None,
        bucket: str = BUCKET,
        **options: Any,
    ) -> Any:
        from awscrt.http import HttpHeaders, HttpRequest
        from awscrt.s3 import S3RequestType

        request = HttpRequest(method, f"/{bucket}/{key}", HttpHeaders([("Host", self.host), *headers]), body)
        seen: dict[str, str] = {}

        def on_headers(status_code: int, headers: list[tuple[str, str]], **_: Any) -> None:
            seen.update((k.lower(), v) for k, v in headers)

        kind = options.pop("type", S3RequestType.DEFAULT)
        made = self.client.make_request(type=kind, request=request, on_headers=on_headers, **options)
        made.finished_future.result()
        return seen

    def head(self, key: str) -> dict[str, str]:
        headers = self.request("HEAD", key, [], operation_name="HeadObject")
        prefix = "x-amz-meta-"
        return {k.removeprefix(prefix): v for k, v in headers.items() if k.startswith(prefix)}

    def upload(self, key: str, parts: Iterator[bytearray]) -> None:
        from awscrt.s3 import S3RequestType

        first = next(parts)

        def chained() -> Iterator[bytearray]:
            yield first
            yield from parts

        meta = [(f"x-amz-meta-{k}", v) for k, v in METADATA.items()]
        headers = [("Content-Type", "application/octet-stream"), ("If-None-Match", "*"), *meta]
        self.request("PUT", key, headers, StreamReader(chained()), type=S3RequestType.PUT_OBJECT, part_size=len(first))

    def errors(self, endpoint: str) -> dict[str, str]:
        import io

        from awscrt.auth import AwsCredentialsProvider
        from awscrt.s3 import S3RequestType, S3ResponseError

        def attempt(call: Callable[[], object]) -> str:
            try:
                call()
                return "no error"
            except S3ResponseError as error:
                code = ET.fromstring(error.body).findtext("Code") if error.body else "-"
                return f"S3ResponseError {code} ({error.status_code}; {error.name})"
            except Exception as error:
                return f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"

        def signer(access: str, secret: str) -> Any:
            other = AwsCrt(endpoint, 1)
            from awscrt.io import ClientBootstrap, DefaultHostResolver, EventLoopGroup
            from awscrt.s3 import S3Client, S3RequestTlsMode

            group = EventLoopGroup()
            bootstrap = ClientBootstrap(group, DefaultHostResolver(group))
            other.client = S3Client(
                bootstrap=bootstrap,
                region=os.environ["AWS_REGION"],
                credential_provider=AwsCredentialsProvider.new_static(access, secret),
                tls_mode=S3RequestTlsMode.DISABLED,
                memory_limit=CRT_MEMORY_LIMIT,
            )
            return other

        import xml.etree.ElementTree as ET

        put = S3RequestType.PUT_OBJECT
        wrong_secret = signer(os.environ["AWS_ACCESS_KEY_ID"], "wrong")
        unknown_key = signer("UNKNOWNKEY", "x")
        self.request("PUT", "exists", [("Content-Length", "1")], io.BytesIO(b"x"), type=put)
        return {
            "wrong secret": attempt(
                lambda: wrong_secret.request("GET", "?list-type=2", [], operation_name="ListObjectsV2")
            ),
            "unknown key": attempt(
                lambda: unknown_key.request("GET", "?list-type=2", [], operation_name="ListObjectsV2")
            ),
            "missing bucket": attempt(
                lambda: self.request(
                    "PUT", "k", [("Content-Length", "1")], io.BytesIO(b"x"), "no-such-bucket", type=put
                )
            ),
            "If-None-Match": attempt(
                lambda: self.request(
                    "PUT", "exists", [("Content-Length", "1"), ("If-None-Match", "*")], io.BytesIO(b"y"), type=put
                )
            ),
            "If-None-Match, multipart": attempt(lambda: self.upload("exists", stream(*MULTIPART_OVER_EXISTING))),
        }


LIBRARIES: dict[str, tuple[str, type[Any]]] = {
    "boto3": ("boto3", Boto3),
    "boto3-transfer": ("boto3", Boto3Transfer),
    "obstore": ("obstore", Obstore),
    "minio": ("minio", Minio),
    "botocore-sigv4": ("botocore.session", BotocoreSigV4),
    "awscrt": ("awscrt.s3", AwsCrt),
}


def worker(name: str, endpoint: str, key: str, size: int, part: int, in_flight: int, errors: bool) -> None:
    """One fresh process: import, idle, upload, head; prints one JSON line."""
    import supervisor_app.cli.archiver  # noqa: F401  (what an archiver holds before any S3 client)

    if name != "awscrt":
        # botocore imports awscrt whenever it is installed (+6 MiB); an archiver on botocore would not install it.
        sys.modules["awscrt"] = None  # type: ignore[assignment]

    base_rss = vm_kib("VmRSS")
    module, cls = LIBRARIES[name]
    started = time.perf_counter()
    __import__(module)
    import_s = time.perf_counter() - started
    import_rss = vm_kib("VmRSS")
    library = cls(endpoint, in_flight)
    with contextlib.suppress(Exception):  # a 404 still opens the connection and loads the response machinery
        library.head(key)
    time.sleep(1.0)
    idle_rss = vm_kib("VmRSS")
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    library.upload(key, stream(size, part))
    upload_s = time.perf_counter() - started
    upload_cpu = cpu_seconds() - cpu_before
    peak = vm_kib("VmHWM")
    heads = []
    for _ in range(HEAD_REPEAT):
        started = time.perf_counter()
        metadata = library.head(key)
        heads.append(time.perf_counter() - started)
    result = {
        "base_rss": base_rss,
        "import_s": import_s,
        "import_rss": import_rss,
        "idle_rss": idle_rss,
        "upload_s": upload_s,
        "upload_cpu": upload_cpu,
        "peak_rss": peak,
        "head_ms": statistics.median(heads) * 1000,
        "metadata_ok": metadata == METADATA,
        "metadata": metadata,
    }
    if errors:
        result["errors"] = library.errors(endpoint)
    print(json.dumps(result))


# --- the driver -------------------------------------------------------------------------------------------------------


def run_worker(name: str, endpoint: str, key: str, args: argparse.Namespace, part: int, env: dict[str, str]) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--endpoint", endpoint, "--key", key]
    cmd += ["--size-bytes", str(args.size_mib * MiB), "--part-bytes", str(part), "--in-flight", str(args.in_flight)]
    if args.errors:
        cmd.append("--errors")
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.splitlines()[-1])


def aws_cp(source: Path, endpoint: str, key: str, env: dict[str, str], rss_file: Path) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds of `aws s3 cp` (peak RSS and CPU from /usr/bin/time)."""
    aws = Path(sys.executable).parent / "aws"
    cmd = [str(aws), "s3", "cp", "--only-show-errors", "--endpoint-url", endpoint, str(source), f"s3://{BUCKET}/{key}"]
    started = time.perf_counter()
    subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", str(rss_file), *cmd], env=env, check=True)
    rss_kib, user, system = rss_file.read_text().split()[-3:]
    return time.perf_counter() - started, int(rss_kib) / 1024, float(user) + float(system)


def credential_env(server: Any, home: Path) -> dict[str, str]:
    """The environment source of the standard AWS chain, and no shared files or instance metadata to fall back on."""
    from tests.s3.seaweed import ADMIN, REGION

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=ADMIN.access_key,
        AWS_SECRET_ACCESS_KEY=ADMIN.secret_key,
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(home / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def drive(args: argparse.Namespace) -> None:
    from tests.s3.seaweed import SeaweedServer

    work = Path(tempfile.mkdtemp(prefix="bench-s3-clients-", dir=args.workdir))
    try:
        server = SeaweedServer(work / "seaweed")
        (work / "seaweed").mkdir()
        print(f"SeaweedFS started in {server.start():.1f} s at {server.endpoint}", flush=True)
        server.client().create_bucket(Bucket=BUCKET)
        env = credential_env(server, work)
        size = args.size_mib * MiB
        source = work / "source.bin"
        with source.open("wb") as out:
            for chunk in stream(size, 8 * MiB):
                out.write(chunk)
        print(
            f"cores: {os.cpu_count()}   python: {sys.version.split()[0]}   {args.size_mib} MiB, {args.in_flight} in flight"
        )
        print(f"versions: {versions()}", flush=True)
        try:
            report(args, server.endpoint, env, source, work / "rss")
        finally:
            server.stop(grace_s=2.0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def versions() -> str:
    from importlib.metadata import version

    return ", ".join(
        f"{name} {version(name)}" for name in ("boto3", "botocore", "obstore", "minio", "awscrt", "awscli")
    )


def report(args: argparse.Namespace, endpoint: str, env: dict[str, str], source: Path, rss_file: Path) -> None:
    parts = [int(p) * MiB for p in args.part_mib.split(",")]
    names = args.clients.split(",")
    results: dict[tuple[str, int], list[dict]] = {(n, p): [] for n in names for p in parts}
    aws_runs: list[tuple[float, float, float]] = []
    for run in range(args.repeat):
        # Interleaved, so that load from elsewhere spreads over every library alike.
        aws_runs.append(aws_cp(source, endpoint, f"aws-{run}", env, rss_file))
        for part in parts:
            for name in names:
                key = f"{name}-{part // MiB}-{run}"
                results[name, part].append(run_worker(name, endpoint, key, args, part, env))
        print(f"run {run + 1}/{args.repeat} done", flush=True)
    print_table(args.size_mib, aws_runs, results)
    if args.errors:
        print_errors(names, parts[0], results)


def print_table(
    size_mib: int, aws_runs: list[tuple[float, float, float]], results: dict[tuple[str, int], list[dict]]
) -> None:
    aws_s = statistics.median(t for t, _, _ in aws_runs)
    aws_cpu = statistics.median(c for _, _, c in aws_runs)
    aws_peak = max(r for _, r, _ in aws_runs)
    print()
    print(
        f"{'client':<16}{'part':>6}{'import':>8}{'+import':>9}{'idle':>7}{'upload':>8}{'MiB/s':>7}{'x aws':>7}"
        f"{'CPU':>7}{'peak':>7}{'HEAD':>6}  meta"
    )
    print(f"{'':<16}{'MiB':>6}{'ms':>8}{'MiB':>9}{'MiB':>7}{'s':>8}{'':>7}{'':>7}{'s':>7}{'MiB':>7}{'ms':>6}")
    print(
        f"{'aws s3 cp':<16}{8:>6}{'':>8}{'':>9}{'':>7}{aws_s:>8.2f}{size_mib / aws_s:>7.0f}{1.0:>7.2f}"
        f"{aws_cpu:>7.1f}{aws_peak:>7.1f}"
    )
    keys = ("import_s", "import_rss", "idle_rss", "upload_s", "upload_cpu", "head_ms", "base_rss")
    for (name, part), runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in keys}
        peak = max(r["peak_rss"] for r in runs) / 1024
        print(
            f"{name:<16}{part // MiB:>6}{med['import_s'] * 1000:>8.0f}{(med['import_rss'] - med['base_rss']) / 1024:>9.1f}"
            f"{med['idle_rss'] / 1024:>7.1f}{med['upload_s']:>8.2f}{size_mib / med['upload_s']:>7.0f}"
            f"{med['upload_s'] / aws_s:>7.2f}{med['upload_cpu']:>7.1f}{peak:>7.1f}{med['head_ms']:>6.1f}"
            f"  {all(r['metadata_ok'] for r in runs)}"
        )
    base = statistics.median(r["base_rss"] for runs in results.values() for r in runs) / 1024
    print(f"\nbefore any S3 library (python + archiver imports): {base:.1f} MiB RSS")
    print("aws s3 cp runs (s): " + ", ".join(f"{t:.2f}" for t, _, _ in aws_runs))
    for (name, part), runs in results.items():
        print(f"{name}/{part // MiB} runs (s): " + ", ".join(f"{r['upload_s']:.2f}" for r in runs))


def print_errors(names: list[str], part: int, results: dict[tuple[str, int], list[dict]]) -> None:
    print("\nerrors as each library reports them:")
    for name in names:
        first = results[name, part][0]
        for case, text in first["errors"].items():
            print(f"  {name:<16}{case:<26}{text}")
        print(f"  {name:<16}{'HEAD metadata':<26}{first['metadata']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-mib", default="8,16", help="comma-separated part sizes (default 8,16)")
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--errors", action="store_true", help="also print each library's error reports")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--worker", choices=sorted(LIBRARIES), help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--size-bytes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--part-bytes", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.endpoint, args.key, args.size_bytes, args.part_bytes, args.in_flight, args.errors)
    else:
        drive(args)


if __name__ == "__main__":
    main()
