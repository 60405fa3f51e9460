"""What the S3 archiver tests share: credentials in the environment, archiver command lines, a local mirror of a bucket."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from tests.commands import archiver_cmd
from tests.s3.seaweed import ADMIN, REGION, S3Identity, SeaweedServer


def credentials_env(
    home: Path, identity: S3Identity = ADMIN, *, secret_key: str | None = None, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment source of the standard AWS chain, and no shared files or instance role to fall back on."""
    env = {k: v for k, v in (base if base is not None else os.environ).items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=identity.access_key,
        AWS_SECRET_ACCESS_KEY=secret_key if secret_key is not None else identity.secret_key,
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=str(home / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def s3_archiver_cmd(queue: Path, url: str, venue: str, server: SeaweedServer, *extra: str) -> list[str]:
    """`chronicle-raw-archiver` into `url` on the test server, JSON logs."""
    cmd = archiver_cmd(queue, Path(url), venue, "--s3-endpoint", server.endpoint, "--log-format", "json", *extra)
    cmd[cmd.index("--archive-root") + 1] = url  # a Path would fold the // of s3://
    return cmd


def run_archiver(cmd: list[str], env: dict[str, str], timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False)


def uploads_in(s3: Any, bucket: str) -> list[str]:
    """Keys of the multipart uploads in progress in `bucket`."""
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


class Mirror:
    """A local copy of a bucket, refreshed by downloading only what changed; local archive checks then apply."""

    def __init__(self, s3: Any, bucket: str, directory: Path) -> None:
        self._s3 = s3
        self._bucket = bucket
        self.directory = directory
        self._etags: dict[str, str] = {}

    def sync(self) -> Path:
        listed: dict[str, str] = {}
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket):
            listed.update((o["Key"], o["ETag"]) for o in page.get("Contents", []))
        for key in set(self._etags) - set(listed):
            (self.directory / key).unlink(missing_ok=True)
        for key, etag in listed.items():
            if self._etags.get(key) != etag:
                path = self.directory / key
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read())
        self._etags = listed
        return self.directory
