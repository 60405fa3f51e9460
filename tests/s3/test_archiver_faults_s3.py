"""A store that throttles or fails some requests is retried with backoff; one that keeps failing is exit 75."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.archive.archive_checks import assert_final_files_are_whole, assert_metadata_consistent
from tests.s3.seaweed import SeaweedServer
from tests.s3.store_helpers import Mirror, credentials_env, run_archiver, s3_archiver_cmd, uploads_in
from tests.s3.throttling_proxy import ThrottlingProxy

VENUE = "binance-perp"


def through(proxy: ThrottlingProxy, cmd: list[str]) -> list[str]:
    cmd = list(cmd)
    cmd[cmd.index("--s3-endpoint") + 1] = proxy.endpoint
    return cmd


def retries(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if '"s3_retry"' in line]


def test_throttling_and_server_errors_are_retried_and_nothing_is_lost(
    seaweed: SeaweedServer, s3: Any, bucket: str, queue: Path, tmp_path: Path
) -> None:
    # Every third request is refused: SlowDown, then InternalError, in turn.
    def fault(method: str, path: str, number: int) -> int | None:
        return (503, 500)[number // 3 % 2] if number % 3 == 0 else None

    cmd = s3_archiver_cmd(queue, f"s3://{bucket}/a", VENUE, seaweed, "--once", "--compress", "--retain-q")
    with ThrottlingProxy(seaweed.endpoint, fault) as proxy:
        result = run_archiver(through(proxy, cmd), credentials_env(tmp_path))

    assert result.returncode == 0, result.stderr
    seen = retries(result.stderr)
    assert proxy.faults >= 10 and len(seen) == proxy.faults
    assert {"SlowDown (503)", "InternalError (500)"} <= {r["error"].split(":")[0] for r in seen}
    downloaded = Mirror(s3, bucket, tmp_path / "mirror").sync() / "a"
    assert_metadata_consistent(downloaded)
    assert_final_files_are_whole(downloaded, {p.name: p.read_bytes() for p in queue.glob("*.q")})
    assert len(list(downloaded.rglob("*.q.zst.idx"))) == 4
    assert uploads_in(s3, bucket) == []


def test_a_store_that_keeps_throttling_exits_75_and_the_rerun_completes(
    seaweed: SeaweedServer, s3: Any, bucket: str, queue: Path, tmp_path: Path
) -> None:
    def fault(method: str, path: str, number: int) -> int | None:
        return 503 if "partNumber=" in path else None  # every part refused, for good

    env = credentials_env(tmp_path)
    cmd = s3_archiver_cmd(queue, f"s3://{bucket}/a", VENUE, seaweed, "--once", "--s3-attempts", "3")
    with ThrottlingProxy(seaweed.endpoint, fault) as proxy:
        result = run_archiver(through(proxy, cmd), env)

    assert result.returncode == 75, result.stderr
    failed = [json.loads(line) for line in result.stderr.splitlines() if '"archiver_failed"' in line][-1]
    assert failed["error_type"] == "ObjectStoreUnavailableError"
    assert "UploadPart" in failed["error"] and "SlowDown (503)" in failed["error"]
    assert not (queue / "readers" / "raw-archiver.meta").exists() or '"segment_archived"' not in result.stderr
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)  # nothing visible: the uploads never completed
    assert uploads_in(s3, bucket) == []  # and the failing run aborted its own

    again = run_archiver(cmd, env)  # the store is itself again
    assert again.returncode == 0, again.stderr
    assert uploads_in(s3, bucket) == []
    downloaded = Mirror(s3, bucket, tmp_path / "mirror").sync() / "a"
    assert_metadata_consistent(downloaded)
    assert len(list(downloaded.rglob("*.q"))) == 4
    shutil.rmtree(tmp_path / "mirror")
