"""`validate-config --check-paths` lists an s3:// root's bucket with this user's credentials."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.commands import FLEET
from tests.config.sample_configs import MINIMAL, write_config
from tests.s3.seaweed import SeaweedServer
from tests.s3.store_helpers import credentials_env


def check_paths(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [*FLEET, "validate-config", "--check-paths", str(config)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def s3_config(tmp_path: Path, url: str, endpoint: str) -> Path:
    (tmp_path / "q").mkdir(exist_ok=True)
    text = (
        MINIMAL.replace("archive_root: archive", f"archive_root: {url}") + f"object_store: {{endpoint: '{endpoint}'}}\n"
    )
    return write_config(tmp_path, text)


def test_a_reachable_bucket_passes(seaweed: SeaweedServer, bucket: str, tmp_path: Path) -> None:
    result = check_paths(s3_config(tmp_path, f"s3://{bucket}/fleet", seaweed.endpoint), credentials_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_missing_bucket_and_refused_credentials_are_problems_at_the_root(
    seaweed: SeaweedServer, bucket: str, tmp_path: Path
) -> None:
    missing = check_paths(s3_config(tmp_path, "s3://no-such-bucket/fleet", seaweed.endpoint), credentials_env(tmp_path))
    assert missing.returncode == 1
    assert ":2:15: archive_root: s3://no-such-bucket/fleet cannot be used by this user:" in missing.stdout
    assert "NoSuchBucket" in missing.stdout

    refused = check_paths(
        s3_config(tmp_path, f"s3://{bucket}/fleet", seaweed.endpoint), credentials_env(tmp_path, secret_key="wrong")
    )
    assert refused.returncode == 1 and "SignatureDoesNotMatch" in refused.stdout

    env = credentials_env(tmp_path)
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    anonymous = check_paths(s3_config(tmp_path, f"s3://{bucket}/fleet", seaweed.endpoint), env)
    assert anonymous.returncode == 1 and "no AWS credentials found" in anonymous.stdout


def test_a_store_that_does_not_answer_is_a_problem(tmp_path: Path) -> None:
    result = check_paths(s3_config(tmp_path, "s3://archive/fleet", "http://127.0.0.1:9"), credentials_env(tmp_path))
    assert result.returncode == 1 and "cannot be reached" in result.stdout and "Connection refused" in result.stdout
