"""What an S3 archiver refuses, with exit 78 and a reason that says what to fix: conflicts, credentials, buckets."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from supervisor_app.chronicle.reader_position import load_position
from tests.s3.seaweed import ADMIN, NO_RIGHTS, S3Identity, SeaweedServer
from tests.s3.store_helpers import credentials_env, run_archiver, s3_archiver_cmd, uploads_in

VENUE = "binance-perp"
SEGMENT_KEY = "a/raw/v1/binance-perp/2026-01-24/raw/000000001.q"


def failure(stderr: str) -> dict[str, Any]:
    """The archiver's last `archiver_failed` log line."""
    lines = [json.loads(line) for line in stderr.splitlines() if '"archiver_failed"' in line]
    assert lines, stderr
    return lines[-1]


def committed(queue: Path) -> int | None:
    path = queue / "readers" / "raw-archiver.meta"
    return load_position(path).segment_id if path.exists() else None


@pytest.mark.parametrize("metadata", ["other checksum", "none"])
def test_an_object_with_other_bytes_is_a_conflict_and_is_kept(
    metadata: str, seaweed: SeaweedServer, s3: Any, bucket: str, queue: Path, tmp_path: Path
) -> None:
    theirs = b"another host's segment 1"
    recorded = {"raw-crc32": f"{zlib.crc32(theirs):08x}", "raw-size": str(len(theirs))} if metadata != "none" else {}
    s3.put_object(Bucket=bucket, Key=SEGMENT_KEY, Body=theirs, Metadata=recorded)

    result = run_archiver(
        s3_archiver_cmd(queue, f"s3://{bucket}/a", VENUE, seaweed, "--once"), credentials_env(tmp_path)
    )

    assert result.returncode == 78, result.stderr
    reason = failure(result.stderr)
    assert reason["error_type"] == "ArchiveConflictError" and reason["permanent"] is True
    assert f"s3://{bucket}/{SEGMENT_KEY}" in reason["error"]
    ours = f"{zlib.crc32((queue / '000000001.q').read_bytes()):08x}"
    assert ours in reason["error"]
    if metadata != "none":
        assert recorded["raw-crc32"] in reason["error"]
    assert s3.get_object(Bucket=bucket, Key=SEGMENT_KEY)["Body"].read() == theirs
    assert committed(queue) == 1  # segment 0 archived, the position stops before the conflict
    assert uploads_in(s3, bucket) == []


@pytest.mark.parametrize(
    ("identity", "secret", "code"),
    [
        (ADMIN, "not-the-secret", "SignatureDoesNotMatch"),
        (S3Identity("unknown", "NOSUCHACCESSKEY", "x", ()), None, "InvalidAccessKeyId"),
        (NO_RIGHTS, None, "AccessDenied"),
    ],
    ids=["wrong-secret", "unknown-key", "no-rights"],
)
def test_refused_credentials_exit_78_saying_which(
    identity: S3Identity,
    secret: str | None,
    code: str,
    seaweed: SeaweedServer,
    bucket: str,
    queue: Path,
    tmp_path: Path,
) -> None:
    env = credentials_env(tmp_path, identity, secret_key=secret)
    result = run_archiver(s3_archiver_cmd(queue, f"s3://{bucket}/a", VENUE, seaweed, "--once"), env)
    assert result.returncode == 78, result.stderr
    reason = failure(result.stderr)
    assert reason["error_type"] == "ObjectStoreAccessError"
    assert code in reason["error"] and bucket in reason["error"]
    assert committed(queue) in (None, 0)


def test_a_missing_bucket_exits_78_and_is_not_created(
    seaweed: SeaweedServer, s3: Any, queue: Path, tmp_path: Path
) -> None:
    result = run_archiver(
        s3_archiver_cmd(queue, "s3://no-such-bucket/a", VENUE, seaweed, "--once"), credentials_env(tmp_path)
    )
    assert result.returncode == 78, result.stderr
    reason = failure(result.stderr)
    assert "NoSuchBucket" in reason["error"] and "the bucket does not exist" in reason["error"]
    assert "no-such-bucket" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_no_credentials_at_all_exit_78(seaweed: SeaweedServer, bucket: str, queue: Path, tmp_path: Path) -> None:
    env = credentials_env(tmp_path)
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    result = run_archiver(s3_archiver_cmd(queue, f"s3://{bucket}/a", VENUE, seaweed, "--once"), env)
    assert result.returncode == 78, result.stderr
    assert "no AWS credentials found" in failure(result.stderr)["error"]


def test_a_store_that_does_not_answer_exits_75(queue: Path, tmp_path: Path, seaweed: SeaweedServer) -> None:
    # A port nothing listens on: connection refused on every attempt.
    cmd = s3_archiver_cmd(queue, "s3://bucket-x/a", VENUE, seaweed, "--once", "--s3-attempts", "3")
    cmd[cmd.index("--s3-endpoint") + 1] = "http://127.0.0.1:9"
    result = run_archiver(cmd, credentials_env(tmp_path))
    assert result.returncode == 75, result.stderr
    reason = failure(result.stderr)
    assert reason["error_type"] == "ObjectStoreUnavailableError" and "failed 3 times" in reason["error"]
    retries = [json.loads(line) for line in result.stderr.splitlines() if '"s3_retry"' in line]
    assert [r["attempt"] for r in retries] == [2, 3]
