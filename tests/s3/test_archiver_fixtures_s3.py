"""Every reference fixture archived to a real S3 store, copy and compress mode: what comes back is what a local archive holds."""

from __future__ import annotations

import json
import shutil
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest
import structlog

from supervisor_app.archive.archiver import ArchiverConfig, RawArchiver
from supervisor_app.chronicle.reader_position import load_position
from tests.archive.archive_checks import assert_final_files_are_whole, assert_metadata_consistent
from tests.conftest import FIXTURE_CASES
from tests.s3.seaweed import SeaweedServer
from tests.s3.store_helpers import Mirror, credentials_env, run_archiver, s3_archiver_cmd, uploads_in

MODES = {
    "copy": [],
    "compress": ["--compress", "--retain-q", "--block-size", "16384"],
}
TIME_FIELDS = (
    "archived_at_ns",
    "ingest_time_ns",
    "last_archived_at_ns",
    "archive_ms",
    "archive_ms_sum",
    "archive_ms_buckets",
)


def local_archive(queue: Path, root: Path, venue: str, compress: bool) -> None:
    options: dict[str, Any] = {"compress": True, "retain_raw": True, "block_size": 16384} if compress else {}
    config = ArchiverConfig(source=queue, archive_root=root, venue=venue, **options)
    RawArchiver(config, log=structlog.get_logger(), stop=threading.Event()).run_once()


def without_times(document: Any) -> Any:
    if isinstance(document, dict):
        return {k: without_times(v) for k, v in document.items() if k not in TIME_FIELDS}
    if isinstance(document, list):
        return [without_times(v) for v in document]
    return document


def tree(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file() and ".staging" not in p.parts}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", FIXTURE_CASES)
def test_s3_archive_is_the_local_archive(
    case: str, mode: str, seaweed: SeaweedServer, s3: Any, bucket: str, fixture_queue, tmp_path: Path
) -> None:
    venue = FIXTURE_CASES[case]
    queue = fixture_queue(case)
    env = credentials_env(tmp_path)
    result = run_archiver(s3_archiver_cmd(queue, f"s3://{bucket}/fleet/a", venue, seaweed, "--once", *MODES[mode]), env)
    assert result.returncode == 0, result.stderr
    s3_position = load_position(queue / "readers" / "raw-archiver.meta")

    shutil.rmtree(queue / "readers")
    local_root = tmp_path / "local"
    local_root.mkdir()
    local_archive(queue, local_root, venue, compress=mode == "compress")
    downloaded = Mirror(s3, bucket, tmp_path / "mirror").sync() / "fleet" / "a"

    ours, local = tree(downloaded), tree(local_root)
    assert sorted(ours) == sorted(k for k in local if not k.endswith(".archiver.lock"))
    for name, path in ours.items():
        if name.endswith(".json"):
            assert without_times(json.loads(path.read_text())) == without_times(json.loads(local[name].read_text()))
        else:
            assert path.read_bytes() == local[name].read_bytes(), name
    sources = {p.name: p.read_bytes() for p in queue.glob("*.q")}
    assert_final_files_are_whole(downloaded, sources)
    assert_metadata_consistent(downloaded)
    local_position = load_position(queue / "readers" / "raw-archiver.meta")
    assert (s3_position.segment_id, s3_position.offset) == (local_position.segment_id, local_position.offset)
    assert uploads_in(s3, bucket) == []

    # Each data object carries the raw size and CRC-32 a rerun decides by, without downloading it.
    for name in (n for n in ours if n.endswith((".q", ".q.zst"))):
        head = s3.head_object(Bucket=bucket, Key=f"fleet/a/{name}")
        raw = sources[Path(name).name.removesuffix(".zst")]
        assert head["Metadata"]["raw-crc32"] == f"{zlib.crc32(raw):08x}"
        assert head["Metadata"]["raw-size"] == str(len(raw))


def test_rerun_uploads_nothing_and_a_compress_run_completes_a_copy_run(
    seaweed: SeaweedServer, s3: Any, bucket: str, fixture_queue, tmp_path: Path
) -> None:
    queue = fixture_queue("basic")
    env = credentials_env(tmp_path)
    url = f"s3://{bucket}/a"
    assert run_archiver(s3_archiver_cmd(queue, url, "binance-perp", seaweed, "--once"), env).returncode == 0
    etags = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"] if o["Key"].endswith(".q")}

    shutil.rmtree(queue / "readers")  # as if the position were lost: every segment again
    again = run_archiver(s3_archiver_cmd(queue, url, "binance-perp", seaweed, "--once", "--compress"), env)

    assert again.returncode == 0, again.stderr
    listed = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {k: listed[k] for k in etags} == etags  # the .q objects were kept, not uploaded again
    assert sum(k.endswith(".q.zst") for k in listed) == sum(k.endswith(".q.zst.idx") for k in listed) == len(etags)
    downloaded = Mirror(s3, bucket, tmp_path / "mirror").sync() / "a"
    assert_metadata_consistent(downloaded)
    for sidecar in downloaded.rglob("0*.meta.json"):
        names = [f["name"] for f in json.loads(sidecar.read_text())["files"]]
        assert [n.split(".", 1)[1] for n in names] == ["q", "q.zst", "q.zst.idx"]
