"""What the S3 archive design relies on, established against the real SeaweedFS.

Multipart uploads complete atomically and can be found and aborted after a crash;
If-None-Match is enforced on PutObject and CompleteMultipartUpload; user metadata comes
back on HEAD; checksums are verified; errors carry codes that tell the causes apart.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import threading
import zlib
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from tests.s3.seaweed import ADMIN, SeaweedServer

REPO = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
# S3's smallest part, except the last.
MIN_PART = 5 * MiB


def error_of(excinfo: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def upload_parts(s3: Any, bucket: str, key: str, upload_id: str, bodies: list[bytes]) -> list[dict[str, Any]]:
    return [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=b)["ETag"],
        }
        for n, b in enumerate(bodies, 1)
    ]


def uploads_in(s3: Any, bucket: str) -> list[tuple[str, str]]:
    return [(u["Key"], u["UploadId"]) for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def keys_in(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def crc32_header(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_multipart_object_appears_only_when_completed_with_its_metadata(s3: Any, bucket: str) -> None:
    bodies = [os.urandom(MIN_PART), os.urandom(MIN_PART), b"last part may be small"]
    metadata = {"crc32": "89abcdef", "raw-size": str(sum(map(len, bodies)))}
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="seg.q", Metadata=metadata)["UploadId"]
    parts = upload_parts(s3, bucket, "seg.q", upload_id, bodies)

    assert uploads_in(s3, bucket) == [("seg.q", upload_id)]
    listed = s3.list_parts(Bucket=bucket, Key="seg.q", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, MIN_PART), (2, MIN_PART), (3, 22)]
    assert keys_in(s3, bucket) == []
    with pytest.raises(botocore.exceptions.ClientError) as head:
        s3.head_object(Bucket=bucket, Key="seg.q")
    assert error_of(head) == ("404", 404)

    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="seg.q", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )

    # The ETag is AWS's: MD5 of the parts' binary MD5s, "-" and the part count.
    md5s = b"".join(hashlib.md5(b).digest() for b in bodies)
    assert done["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-3"'
    head_after = s3.head_object(Bucket=bucket, Key="seg.q")
    assert (head_after["ETag"], head_after["Metadata"]) == (done["ETag"], metadata)
    assert s3.get_object(Bucket=bucket, Key="seg.q")["Body"].read() == b"".join(bodies)
    assert uploads_in(s3, bucket) == []


def test_single_put_etag_is_the_md5_and_metadata_keys_are_lowercased(s3: Any, bucket: str) -> None:
    put = s3.put_object(Bucket=bucket, Key="meta.json", Body=b"{}", Metadata={"CRC32": "00000001", "Raw-Size": "2"})

    head = s3.head_object(Bucket=bucket, Key="meta.json")
    assert put["ETag"] == head["ETag"] == f'"{hashlib.md5(b"{}").hexdigest()}"'
    assert head["Metadata"] == {"crc32": "00000001", "raw-size": "2"}
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-meta-crc32"] == "00000001"


def test_abort_removes_the_upload_and_its_parts(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="seg.q")["UploadId"]
    upload_parts(s3, bucket, "seg.q", upload_id, [os.urandom(MIN_PART)])

    s3.abort_multipart_upload(Bucket=bucket, Key="seg.q", UploadId=upload_id)

    assert uploads_in(s3, bucket) == []
    assert keys_in(s3, bucket) == []
    with pytest.raises(botocore.exceptions.ClientError) as late_part:
        s3.upload_part(Bucket=bucket, Key="seg.q", UploadId=upload_id, PartNumber=2, Body=b"x")
    assert error_of(late_part) == ("NoSuchUpload", 404)


def test_if_none_match_on_put_refuses_to_overwrite(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="seg.q", Body=b"first", IfNoneMatch="*")

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="seg.q", Body=b"second", IfNoneMatch="*")

    assert error_of(excinfo) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="seg.q")["Body"].read() == b"first"


def test_if_none_match_on_complete_refuses_to_overwrite_and_keeps_the_upload(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="seg.q", Body=b"already archived")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="seg.q")["UploadId"]
    parts = upload_parts(s3, bucket, "seg.q", upload_id, [b"other bytes"])

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="seg.q", UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
        )

    assert error_of(excinfo) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="seg.q")["Body"].read() == b"already archived"
    # The refused upload stays until aborted: the writer must abort it.
    assert uploads_in(s3, bucket) == [("seg.q", upload_id)]


def test_if_none_match_on_complete_creates_a_missing_key(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="seg.q")["UploadId"]
    parts = upload_parts(s3, bucket, "seg.q", upload_id, [b"new"])

    s3.complete_multipart_upload(
        Bucket=bucket, Key="seg.q", UploadId=upload_id, MultipartUpload={"Parts": parts}, IfNoneMatch="*"
    )

    assert s3.get_object(Bucket=bucket, Key="seg.q")["Body"].read() == b"new"


def test_a_wrong_crc32_is_refused_on_put_and_on_upload_part(s3: Any, bucket: str) -> None:
    wrong = crc32_header(b"something else")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="part")["UploadId"]

    with pytest.raises(botocore.exceptions.ClientError) as put:
        s3.put_object(Bucket=bucket, Key="whole", Body=b"data", ChecksumCRC32=wrong)
    with pytest.raises(botocore.exceptions.ClientError) as part:
        s3.upload_part(Bucket=bucket, Key="part", UploadId=upload_id, PartNumber=1, Body=b"data", ChecksumCRC32=wrong)

    assert error_of(put) == ("BadDigest", 400)
    assert error_of(part) == ("BadDigest", 400)
    assert keys_in(s3, bucket) == []
    s3.put_object(Bucket=bucket, Key="whole", Body=b"data", ChecksumCRC32=crc32_header(b"data"))


def test_parts_below_5_mib_are_refused_except_the_last(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="seg.q")["UploadId"]
    parts = upload_parts(s3, bucket, "seg.q", upload_id, [b"small", b"small"])

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=bucket, Key="seg.q", UploadId=upload_id, MultipartUpload={"Parts": parts})

    assert error_of(excinfo) == ("EntityTooSmall", 400)


def test_complete_with_an_unknown_part_etag_is_invalid_part(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="seg.q")["UploadId"]
    upload_parts(s3, bucket, "seg.q", upload_id, [b"data"])
    wrong = [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=bucket, Key="seg.q", UploadId=upload_id, MultipartUpload={"Parts": wrong})

    assert error_of(excinfo) == ("InvalidPart", 400)


def test_missing_bucket_codes_and_head_requests_carry_none(s3: Any) -> None:
    calls = {
        "put": lambda: s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"x"),
        "create upload": lambda: s3.create_multipart_upload(Bucket="no-such-bucket", Key="k"),
        "list uploads": lambda: s3.list_multipart_uploads(Bucket="no-such-bucket"),
        "list objects": lambda: s3.list_objects_v2(Bucket="no-such-bucket"),
        "head bucket": lambda: s3.head_bucket(Bucket="no-such-bucket"),
        "head object": lambda: s3.head_object(Bucket="no-such-bucket", Key="k"),
    }
    codes = {}
    for name, call in calls.items():
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            call()
        codes[name] = error_of(excinfo)

    # A HEAD response has no body, so no error code: only the status says what went wrong.
    assert codes == {
        "put": ("NoSuchBucket", 404),
        "create upload": ("NoSuchBucket", 404),
        "list uploads": ("NoSuchBucket", 404),
        "list objects": ("NoSuchBucket", 404),
        "head bucket": ("404", 404),
        "head object": ("404", 404),
    }


def test_credential_errors_on_head_are_a_bare_403(seaweed: SeaweedServer, bucket: str) -> None:
    client = seaweed.client(ADMIN, secret_key="not-the-secret")

    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client.head_object(Bucket=bucket, Key="k")

    assert error_of(excinfo) == ("403", 403)


# A run that crashes mid-upload: parts sent, no complete. It prints the upload id, then dies.
CRASHING_UPLOADER = """
import os, sys, time
from tests.s3.seaweed import s3_client
s3 = s3_client(sys.argv[1])
bucket, key = sys.argv[2], sys.argv[3]
upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
for number in (1, 2):
    s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=os.urandom(5 * 1024 * 1024))
print(upload_id, flush=True)
time.sleep(600)
"""


def test_uploads_of_a_killed_writer_are_listed_with_their_parts_and_can_be_aborted(
    seaweed: SeaweedServer, s3: Any, bucket: str
) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", CRASHING_UPLOADER, seaweed.endpoint, bucket, "raw/v1/x/000000007.q"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert writer.stdout is not None
        upload_id = writer.stdout.readline().strip()
    finally:
        writer.kill()
        writer.wait()

    assert upload_id
    assert keys_in(s3, bucket) == []
    assert uploads_in(s3, bucket) == [("raw/v1/x/000000007.q", upload_id)]
    found = s3.list_multipart_uploads(Bucket=bucket, Prefix="raw/v1/x/")["Uploads"]
    assert [u["UploadId"] for u in found] == [upload_id]
    listed = s3.list_parts(Bucket=bucket, Key="raw/v1/x/000000007.q", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [(1, MIN_PART), (2, MIN_PART)]

    s3.abort_multipart_upload(Bucket=bucket, Key="raw/v1/x/000000007.q", UploadId=upload_id)

    assert uploads_in(s3, bucket) == []
    assert keys_in(s3, bucket) == []


@pytest.mark.slow
def test_server_killed_during_upload_part_keeps_the_upload_resumable(
    seaweed: SeaweedServer, s3: Any, bucket: str
) -> None:
    first = os.urandom(MIN_PART)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="seg.q", Metadata={"crc32": "1"})["UploadId"]
    [part_one] = upload_parts(s3, bucket, "seg.q", upload_id, [first])
    outcome: dict[str, object] = {}
    big = os.urandom(128 * MiB)
    sender_client = seaweed.client()
    sending = threading.Event()
    sender_client.meta.events.register("before-send.s3.UploadPart", lambda **_: sending.set())

    def send_big_part() -> None:
        try:
            response = sender_client.upload_part(Bucket=bucket, Key="seg.q", UploadId=upload_id, PartNumber=2, Body=big)
            outcome["etag"] = response["ETag"]
        except botocore.exceptions.BotoCoreError as error:
            outcome["error"] = error

    sender = threading.Thread(target=send_big_part)
    sender.start()
    assert sending.wait(60)
    # 128 MiB take a good part of a second on loopback: the kill lands while they are sent.
    threading.Event().wait(0.05)
    seaweed.kill()
    sender.join()
    print("OUTCOME", outcome)
    seaweed.start()

    assert uploads_in(s3, bucket) == [("seg.q", upload_id)]
    listed = s3.list_parts(Bucket=bucket, Key="seg.q", UploadId=upload_id)["Parts"]
    # A part is there after the restart exactly when the server had acknowledged it.
    expected = [(1, MIN_PART), (2, len(big))] if "etag" in outcome else [(1, MIN_PART)]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == expected
    assert keys_in(s3, bucket) == []

    last = b"resent after the restart"
    etag = s3.upload_part(Bucket=bucket, Key="seg.q", UploadId=upload_id, PartNumber=2, Body=last)["ETag"]
    part_two = {"PartNumber": 2, "ETag": etag}
    s3.complete_multipart_upload(
        Bucket=bucket, Key="seg.q", UploadId=upload_id, MultipartUpload={"Parts": [part_one, part_two]}, IfNoneMatch="*"
    )
    assert s3.get_object(Bucket=bucket, Key="seg.q")["Body"].read() == first + last
    assert s3.head_object(Bucket=bucket, Key="seg.q")["Metadata"] == {"crc32": "1"}


@pytest.mark.slow
def test_an_upload_left_by_a_server_crash_can_be_aborted_after_restart(
    seaweed: SeaweedServer, s3: Any, bucket: str
) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="seg.q")["UploadId"]
    upload_parts(s3, bucket, "seg.q", upload_id, [os.urandom(MIN_PART)])

    seaweed.restart()

    assert uploads_in(s3, bucket) == [("seg.q", upload_id)]
    s3.abort_multipart_upload(Bucket=bucket, Key="seg.q", UploadId=upload_id)
    assert uploads_in(s3, bucket) == []
    assert keys_in(s3, bucket) == []
