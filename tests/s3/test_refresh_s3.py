"""An S3 archiver idle after work refreshes in place, as a local one does."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from tests.cli.fleet_runner import json_lines, wait_until
from tests.cli.test_archiver_refresh import seal
from tests.s3.seaweed import SeaweedServer
from tests.s3.store_helpers import credentials_env, s3_archiver_cmd


def test_an_idle_s3_archiver_refreshes(tmp_path: Path, seaweed: SeaweedServer, bucket: str) -> None:
    queue, log = tmp_path / "queue", tmp_path / "archiver.log"
    seal(queue, 1)
    cmd = s3_archiver_cmd(queue, f"s3://{bucket}/a", "v", seaweed, "--poll-ms", "50", "--refresh-when-idle", "0.5")
    with log.open("w") as stderr:
        archiver = subprocess.Popen(cmd, env=credentials_env(tmp_path), stderr=stderr)
    try:
        decided = lambda: [e["event"] for e in json_lines(log) if e["event"].startswith("archiver_refresh")]
        wait_until(decided, timeout=60, what="a refresh, or its skipping")
        archiver.send_signal(signal.SIGTERM)
        assert archiver.wait(30) == 0
    finally:
        archiver.kill()
        archiver.wait()
    assert decided()[0] == "archiver_refreshing", json.dumps(json_lines(log)[-3:])
