"""`chronicle-fleet verify --archive-root s3://...`: clean archives pass, damaged objects are named."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.archive.queue_builders import START_NS, write_queue
from tests.commands import FLEET
from tests.s3.seaweed import SeaweedServer
from tests.s3.store_helpers import credentials_env, run_archiver, s3_archiver_cmd

VENUE = "binance-perp"
PARTITION = "a/raw/v1/binance-perp/2026-01-24/raw/"


def verify(seaweed: SeaweedServer, url: str, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [*FLEET, "verify", "--archive-root", url, "--s3-endpoint", seaweed.endpoint, "--format", "json", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def archived(seaweed: SeaweedServer, bucket: str, queue: Path, tmp_path: Path) -> dict[str, str]:
    """The basic fixture archived to `s3://<bucket>/a` with .q, .q.zst and .q.zst.idx; the environment to reach it."""
    env = credentials_env(tmp_path)
    cmd = s3_archiver_cmd(queue, f"s3://{bucket}/a", VENUE, seaweed, "--once", "--compress", "--retain-q")
    assert run_archiver(cmd, env).returncode == 0
    return env


def test_a_clean_archive_verifies(seaweed: SeaweedServer, bucket: str, archived: dict[str, str]) -> None:
    result = verify(seaweed, f"s3://{bucket}/a", archived)
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(result.stdout)
    assert (report["segments"], report["raw_bytes"], report["problems"]) == (4, 4 * 65536, [])


def test_damaged_objects_stray_objects_and_unfinished_uploads_are_named(
    seaweed: SeaweedServer, s3: Any, bucket: str, archived: dict[str, str]
) -> None:
    def flip_a_byte(key: str) -> None:
        data = bytearray(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        data[len(data) // 2] ^= 0xFF
        s3.put_object(Bucket=bucket, Key=key, Body=bytes(data))

    flip_a_byte(PARTITION + "000000001.q")
    flip_a_byte(PARTITION + "000000002.q.zst")
    s3.put_object(Bucket=bucket, Key=PARTITION + "000000003.q.zst.idx", Body=b"short")
    s3.put_object(Bucket=bucket, Key=PARTITION + "000000009.q", Body=b"no sidecar lists me")
    s3.create_multipart_upload(Bucket=bucket, Key=PARTITION + "000000004.q")

    result = verify(seaweed, f"s3://{bucket}/a", archived, "--venue", VENUE)

    assert result.returncode == 1, result.stderr
    problems = {p["path"]: p["message"] for p in json.loads(result.stdout)["problems"]}
    url = f"s3://{bucket}/{PARTITION}"
    assert problems.pop(url + "000000001.q").startswith("decodes to 65536 bytes with CRC-32 ")
    assert "frame" in problems.pop(url + "000000002.q.zst")
    assert problems.pop(url + "000000003.q.zst.idx") == "is 5 bytes, 000000003.meta.json says 48"  # one 1 MiB frame
    assert problems.pop(url + "000000009.q") == "archive object not recorded in any metadata"
    assert "never completed nor aborted" in problems.pop(url + "000000004.q")
    assert problems == {}


def test_a_venue_without_archive_and_refused_credentials(
    seaweed: SeaweedServer, bucket: str, archived: dict[str, str], tmp_path: Path
) -> None:
    missing = verify(seaweed, f"s3://{bucket}/a", archived, "--venue", "okx")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["problems"] == [
        {"path": f"s3://{bucket}/a/raw/v1/okx/", "message": "no archive for venue 'okx'"}
    ]
    refused = verify(seaweed, f"s3://{bucket}/a", credentials_env(tmp_path, secret_key="wrong"))
    assert refused.returncode == 1
    assert "SignatureDoesNotMatch" in refused.stderr


def test_a_second_queue_under_the_same_venue_is_a_warning_for_each_id(
    seaweed: SeaweedServer, bucket: str, tmp_path: Path
) -> None:
    env = credentials_env(tmp_path)
    for day, name in ((0, "first"), (1, "second")):  # ids 0-2 dated 2026-01-24, then ids 0-2 dated 2026-01-25
        queue = tmp_path / name
        write_queue(queue, segments=3, segment_size=64 * 1024, seed=day, start_ns=START_NS + day * 86_400 * 10**9)
        assert run_archiver(s3_archiver_cmd(queue, f"s3://{bucket}/two", VENUE, seaweed, "--once"), env).returncode == 0
    result = verify(seaweed, f"s3://{bucket}/two", env)
    assert result.returncode == 0, result.stderr + result.stdout  # nothing is lost
    report = json.loads(result.stdout)
    reused = [w for w in report["warnings"] if "also archived under 2026-01-24" in w["message"]]
    assert [w["path"].rsplit("/", 1)[-1] for w in reused] == [f"00000000{i}.meta.json" for i in range(3)]
    assert all("/2026-01-25/" in w["path"] for w in reused)
