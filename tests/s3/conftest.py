"""Fixtures of the S3 tests: one real SeaweedFS server per session, a fresh bucket per test."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from tests.cli.conftest import launcher  # noqa: F401  (fleets under `run`: stopped after the test, logs checked)
from tests.s3.seaweed import SeaweedServer

# The data is thrown away with the session's temp dir, so teardown need not wait out the
# filer's 15 s graceful gRPC stop.
SESSION_STOP_GRACE_S = 2.0


STARTUP_SECONDS = pytest.StashKey[list[float]]()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[SeaweedServer]:
    """The session's SeaweedFS server (tests may SIGKILL and restart it)."""
    server = SeaweedServer(tmp_path_factory.mktemp("seaweed"))
    pytestconfig.stash[STARTUP_SECONDS] = server.startup_seconds
    server.start()
    try:
        yield server
    finally:
        server.stop(grace_s=SESSION_STOP_GRACE_S)


@pytest.fixture(autouse=True)
def _restart_if_killed(seaweed: SeaweedServer) -> Iterator[None]:
    """A test that killed the server and failed before restarting it does not take the next tests down."""
    yield
    if not seaweed.running:
        seaweed.start()


@pytest.fixture
def s3(seaweed: SeaweedServer) -> Any:
    """A boto3 client with the admin identity, one attempt per call."""
    return seaweed.client()


@pytest.fixture
def bucket(seaweed: SeaweedServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty bucket for one test, deleted (with whatever it holds) afterwards."""
    name = f"{_bucket_stem(request.node.name)}-{uuid.uuid4().hex[:8]}"
    client = seaweed.client(attempts=3)
    client.create_bucket(Bucket=name)
    yield name
    try:
        _abort_uploads(client, name)
        # SeaweedFS deletes a non-empty bucket and its collection (volumes) at once.
        client.delete_bucket(Bucket=name)
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
        if seaweed.running:
            raise


def _bucket_stem(test_name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")[:40] or "test"


def _abort_uploads(client: Any, bucket: str) -> None:
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    startups = config.stash.get(STARTUP_SECONDS, [])
    if startups:
        times = ", ".join(f"{s:.1f} s" for s in startups)
        terminalreporter.write_line(f"SeaweedFS start-up (first start, then restarts): {times}")
