"""SIGKILL the S3 archiver mid-upload again and again, and kill the store itself: nothing lost, nothing partial."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from supervisor_app.chronicle.reader_position import load_position
from supervisor_app.chronicle.segment import read_segment_header
from tests.archive.archive_checks import archived_segment_ids, assert_final_files_are_whole, assert_metadata_consistent
from tests.archive.queue_builders import write_queue
from tests.s3.seaweed import SeaweedServer
from tests.s3.store_helpers import Mirror, credentials_env, run_archiver, s3_archiver_cmd, uploads_in

SEGMENTS = 6
SEGMENT_SIZE = 12 * 1024 * 1024  # three 5 MiB parts (the smallest S3 allows) per raw object
KILLS_DURING_UPLOADS = 20
MAX_RUNS = 80
PART = str(5 * 1024 * 1024)


def committed(queue: Path) -> int:
    path = queue / "readers" / "raw-archiver.meta"
    return load_position(path).segment_id if path.exists() else 0


def start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """The archiver, once it has registered its reader (it is about to upload)."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if '"reader_registered"' in line:
            break
    return proc


def kill(proc: subprocess.Popen[str]) -> bool:
    """SIGKILL; True if it was still running (the kill landed)."""
    proc.send_signal(signal.SIGKILL)
    assert proc.stderr is not None
    proc.stderr.read()
    proc.wait()
    return proc.returncode == -signal.SIGKILL


def sealed_sources(queue: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in queue.glob("*.q") if read_segment_header(p).sealed}


def assert_complete(tree: Path, sources: dict[str, bytes], segments: int) -> None:
    assert archived_segment_ids(tree) == set(range(segments))
    assert_metadata_consistent(tree)
    assert_final_files_are_whole(tree, sources)
    assert len(list(tree.rglob("*.q"))) == len(list(tree.rglob("*.q.zst.idx"))) == segments


def empty(s3: Any, bucket: str, queue: Path) -> None:
    """Start over on an empty bucket and an unregistered reader."""
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=item["Key"])
    (queue / "readers" / "raw-archiver.meta").unlink()


def test_sigkills_during_uploads_never_lose_data_nor_leave_a_partial_object(
    seaweed: SeaweedServer, s3: Any, bucket: str, tmp_path: Path
) -> None:
    queue = tmp_path / "queue"
    write_queue(queue, segments=SEGMENTS, segment_size=SEGMENT_SIZE)
    sources = sealed_sources(queue)
    env = credentials_env(tmp_path)
    cmd = s3_archiver_cmd(
        queue, f"s3://{bucket}/a", "crashy", seaweed, "--once", "--compress", "--retain-q", "--s3-part-size", PART
    )
    mirror = Mirror(s3, bucket, tmp_path / "mirror")
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    window_s = 0.3  # adapted so that a run rarely gets more than one segment done before its kill
    during_uploads = runs = 0
    while during_uploads < KILLS_DURING_UPLOADS:
        runs += 1
        assert runs <= MAX_RUNS, f"only {during_uploads} kills landed during uploads in {runs} runs (seed={seed})"
        if committed(queue) == SEGMENTS:  # the kills came too late to stop it: check, then again from scratch
            assert uploads_in(s3, bucket) == []
            assert_complete(mirror.sync() / "a", sources, SEGMENTS)
            empty(s3, bucket, queue)
        before = committed(queue)
        proc = start(cmd, env)
        time.sleep(rng.uniform(0, window_s))
        if kill(proc) and uploads_in(s3, bucket):
            during_uploads += 1
        position = committed(queue)
        window_s *= 0.7 if position > before else 1.2
        # The position never runs ahead of what the store holds and records, and no object is partial.
        tree = mirror.sync() / "a"
        if tree.exists():
            archived = archived_segment_ids(tree, settled=False)
            assert set(range(position)) <= archived, f"seed={seed} position={position} archived={sorted(archived)}"
            assert_metadata_consistent(tree, settled=False)
            assert_final_files_are_whole(tree, sources)
        else:
            assert position == 0

    final = run_archiver(cmd, env, timeout_s=300)
    assert final.returncode == 0, final.stderr
    assert committed(queue) == SEGMENTS
    assert uploads_in(s3, bucket) == []  # what the killed runs left was aborted
    assert_complete(mirror.sync() / "a", sources, SEGMENTS)


def test_store_killed_mid_upload_then_restarted(seaweed: SeaweedServer, s3: Any, bucket: str, tmp_path: Path) -> None:
    queue = tmp_path / "queue"
    write_queue(queue, segments=4, segment_size=SEGMENT_SIZE)
    sources = sealed_sources(queue)
    env = credentials_env(tmp_path)
    cmd = s3_archiver_cmd(
        queue, f"s3://{bucket}/a", "crashy", seaweed, "--once", "--s3-part-size", PART, "--s3-attempts", "3"
    )

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not uploads_in(s3, bucket):  # an upload under way: parts acknowledged, not completed
        assert time.monotonic() < deadline and proc.poll() is None, "no upload was ever in progress"
        time.sleep(0.01)
    seaweed.kill()
    _, stderr = proc.communicate(timeout=120)
    # Down for longer than the archiver's attempts: it gives up with exit 75, for the supervisor to retry later.
    assert proc.returncode == 75, stderr
    failed = [json.loads(line) for line in stderr.splitlines() if '"archiver_failed"' in line][-1]
    assert failed["error_type"] == "ObjectStoreUnavailableError" and "Connection refused" in failed["error"]
    position = committed(queue)

    seaweed.start()
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    tree = Mirror(s3, bucket, tmp_path / "mirror").sync() / "a"
    if listed:
        assert_final_files_are_whole(tree, sources)  # what completed before the kill is whole
    left = uploads_in(s3, bucket)
    rerun = run_archiver(cmd, env, timeout_s=300)
    assert rerun.returncode == 0, rerun.stderr
    aborted = [json.loads(line)["object"] for line in rerun.stderr.splitlines() if '"stale_upload_aborted"' in line]
    assert sorted(aborted) == sorted(f"s3://{bucket}/{key}" for key in left)
    assert uploads_in(s3, bucket) == []
    assert committed(queue) == 4 and position <= 4
    tree = Mirror(s3, bucket, tmp_path / "mirror2").sync() / "a"
    assert archived_segment_ids(tree) == set(range(4))
    assert_metadata_consistent(tree)
    assert_final_files_are_whole(tree, sources)
