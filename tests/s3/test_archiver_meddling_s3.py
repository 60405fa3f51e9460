"""A store that did the work and answered 500, and an upload aborted under the archiver's feet."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.archive.archive_checks import assert_final_files_are_whole, assert_metadata_consistent
from tests.archive.queue_builders import write_queue
from tests.s3.meddling_proxy import MeddlingProxy
from tests.s3.seaweed import SeaweedServer
from tests.s3.store_helpers import Mirror, credentials_env, run_archiver, s3_archiver_cmd, uploads_in

VENUE = "binance-perp"
PART = 5 * 1024 * 1024


def through(endpoint: str, cmd: list[str]) -> list[str]:
    cmd = list(cmd)
    cmd[cmd.index("--s3-endpoint") + 1] = endpoint
    return cmd


def once_per_key(wanted: Callable[[str, str], bool]) -> Callable[[str, str], bool]:
    """A lie told once for each key `wanted` picks: the retry hears the truth."""
    told: set[str] = set()

    def lie(method: str, path: str) -> bool:
        key = path.split("?")[0]
        if not wanted(method, path) or key in told:
            return False
        told.add(key)
        return True

    return lie


def assert_archived(s3: Any, bucket: str, queue: Path, mirror: Path) -> None:
    downloaded = Mirror(s3, bucket, mirror).sync() / "a"
    assert_metadata_consistent(downloaded)
    assert_final_files_are_whole(downloaded, {p.name: p.read_bytes() for p in queue.glob("*.q")})
    assert uploads_in(s3, bucket) == []


def test_a_complete_that_landed_but_answered_500_is_not_a_conflict(
    seaweed: SeaweedServer, s3: Any, bucket: str, queue: Path, tmp_path: Path
) -> None:
    # The retried complete meets its own object (If-None-Match: 412, or the upload gone): the same segment.
    lie = once_per_key(lambda method, path: method == "POST" and "uploadId=" in path)
    cmd = s3_archiver_cmd(queue, f"s3://{bucket}/a", VENUE, seaweed, "--once", "--compress", "--retain-q")
    with MeddlingProxy(seaweed.endpoint, lie=lie) as proxy:
        result = run_archiver(through(proxy.endpoint, cmd), credentials_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert len(proxy.lies) == 8  # a .q and a .q.zst for each of the 4 segments
    assert_archived(s3, bucket, queue, tmp_path / "mirror")


def test_a_metadata_put_that_landed_but_answered_500_is_not_a_conflict(
    seaweed: SeaweedServer, s3: Any, bucket: str, queue: Path, tmp_path: Path
) -> None:
    # Each index, meta.json (created, then replaced with If-Match) and sidecar: the retry fails its own condition.
    lie = once_per_key(lambda method, path: method == "PUT" and "uploadId=" not in path)
    cmd = s3_archiver_cmd(queue, f"s3://{bucket}/a", VENUE, seaweed, "--once", "--compress", "--retain-q")
    with MeddlingProxy(seaweed.endpoint, lie=lie) as proxy:
        result = run_archiver(through(proxy.endpoint, cmd), credentials_env(tmp_path))

    assert result.returncode == 0, result.stderr
    assert any(lie.endswith("/meta.json") for lie in proxy.lies)
    assert_archived(s3, bucket, queue, tmp_path / "mirror")


def test_an_upload_aborted_by_someone_else_exits_75_and_the_rerun_completes(
    seaweed: SeaweedServer, s3: Any, bucket: str, tmp_path: Path
) -> None:
    # What another archiver starting on the prefix, or an AbortIncompleteMultipartUpload rule, does mid-upload.
    aborted: list[str] = []

    def abort_before_the_second_part(method: str, path: str) -> None:
        query = parse_qs(urlsplit(path).query)
        if method == "PUT" and query.get("partNumber") == ["2"] and not aborted:
            key = unquote(urlsplit(path).path).split("/", 2)[2]
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=query["uploadId"][0])
            aborted.append(key)

    queue = tmp_path / "queue"
    write_queue(queue, segments=2, segment_size=12 * 1024 * 1024)
    env = credentials_env(tmp_path)
    cmd = s3_archiver_cmd(queue, f"s3://{bucket}/a", VENUE, seaweed, "--once", "--s3-part-size", str(PART))
    with MeddlingProxy(seaweed.endpoint, before=abort_before_the_second_part) as proxy:
        result = run_archiver(through(proxy.endpoint, cmd), env)

    assert aborted
    assert result.returncode == 75, result.stderr
    failed = [json.loads(line) for line in result.stderr.splitlines() if '"archiver_failed"' in line][-1]
    assert failed["error_type"] == "ObjectStoreUnavailableError"
    assert "aborted by someone else" in failed["error"] and aborted[0] in failed["error"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert not (queue / "readers" / "raw-archiver.meta").exists() or '"segment_archived"' not in result.stderr

    again = run_archiver(cmd, env)
    assert again.returncode == 0, again.stderr
    assert_archived(s3, bucket, queue, tmp_path / "mirror")
