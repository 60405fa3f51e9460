"""The SeaweedFS harness itself: a real S3 endpoint that keeps data across SIGKILL and tells errors apart."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from tests.s3.seaweed import ADMIN, NO_RIGHTS, S3Identity, SeaweedServer


def error_of(excinfo: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def accepts_connections(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_put_get_round_trip_with_metadata(s3: Any, bucket: str) -> None:
    body = os.urandom(100_000)
    s3.put_object(Bucket=bucket, Key="raw/v1/venue/000000001.q", Body=body, Metadata={"crc32": "0a1b2c3d"})

    assert s3.get_object(Bucket=bucket, Key="raw/v1/venue/000000001.q")["Body"].read() == body
    head = s3.head_object(Bucket=bucket, Key="raw/v1/venue/000000001.q")
    assert (head["ContentLength"], head["Metadata"]) == (len(body), {"crc32": "0a1b2c3d"})


def test_sigkill_and_restart_keep_committed_objects(seaweed: SeaweedServer, s3: Any, bucket: str) -> None:
    single = os.urandom(3000)
    parts = [os.urandom(5 * 1024 * 1024), b"tail"]
    s3.put_object(Bucket=bucket, Key="single", Body=single)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="multi")["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="multi", UploadId=upload, PartNumber=n, Body=b)["ETag"]
        for n, b in enumerate(parts, 1)
    ]
    listing = [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]
    s3.complete_multipart_upload(Bucket=bucket, Key="multi", UploadId=upload, MultipartUpload={"Parts": listing})
    endpoint, pid = seaweed.endpoint, seaweed.pid

    seaweed.kill()
    assert not seaweed.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not accepts_connections(seaweed.ports.s3)
    seaweed.start()

    assert seaweed.endpoint == endpoint and seaweed.pid != pid
    assert s3.get_object(Bucket=bucket, Key="single")["Body"].read() == single
    assert s3.get_object(Bucket=bucket, Key="multi")["Body"].read() == b"".join(parts)


def test_wrong_secret_is_signature_does_not_match(seaweed: SeaweedServer, bucket: str) -> None:
    client = seaweed.client(ADMIN, secret_key="not-the-secret")

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client.put_object(Bucket=bucket, Key="k", Body=b"x")

    assert error_of(excinfo) == ("SignatureDoesNotMatch", 403)


def test_unknown_access_key_is_invalid_access_key_id(seaweed: SeaweedServer, bucket: str) -> None:
    client = seaweed.client(S3Identity("ghost", "NOSUCHACCESSKEY", "whatever", ()))

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client.list_objects_v2(Bucket=bucket)

    assert error_of(excinfo) == ("InvalidAccessKeyId", 403)


def test_identity_without_rights_is_access_denied(seaweed: SeaweedServer, s3: Any, bucket: str) -> None:
    client = seaweed.client(NO_RIGHTS)

    with pytest.raises(botocore.exceptions.ClientError) as put:
        client.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as listing:
        client.list_objects_v2(Bucket=bucket)

    assert error_of(put) == ("AccessDenied", 403)
    assert error_of(listing) == ("AccessDenied", 403)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_missing_bucket_is_no_such_bucket_and_not_created(s3: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"x")

    assert error_of(excinfo) == ("NoSuchBucket", 404)
    assert "no-such-bucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.slow
def test_stop_ends_the_server_and_removes_its_sockets(tmp_path: Path) -> None:
    server = SeaweedServer(tmp_path)
    server.start()
    pid, sockets = server.pid, server.ports.grpc_sockets()
    assert any(path.is_socket() for path in sockets)

    server.stop(grace_s=2.0)

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not any(path.exists() for path in sockets)
    assert not accepts_connections(server.ports.s3)
