"""What an S3 rerun completes, and the date of a segment whose earliest records are damaged."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from supervisor_app.chronicle import iter_records, segment_name
from supervisor_app.chronicle.writer import QueueWriter
from tests.archive.archive_checks import assert_final_files_are_whole, assert_metadata_consistent
from tests.s3.seaweed import SeaweedServer
from tests.s3.store_helpers import Mirror, credentials_env, run_archiver, s3_archiver_cmd, uploads_in

VENUE = "binance-perp"
PARTITION = "a/raw/v1/binance-perp/2026-01-24/raw/"
MIDNIGHT_NS = 1_769_212_800_000_000_000  # 2026-01-24T00:00Z


def objects(s3: Any, bucket: str) -> dict[str, str]:
    return {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_a_kill_between_a_zst_and_its_index_is_completed_from_the_object(
    seaweed: SeaweedServer, s3: Any, bucket: str, queue: Path, tmp_path: Path
) -> None:
    env = credentials_env(tmp_path)
    cmd = s3_archiver_cmd(queue, f"s3://{bucket}/a", VENUE, seaweed, "--once", "--compress", "--block-size", "16384")
    assert run_archiver(cmd, env).returncode == 0
    index_key = PARTITION + "000000003.q.zst.idx"
    index = s3.get_object(Bucket=bucket, Key=index_key)["Body"].read()
    # What a kill after completing the .q.zst and before writing its index leaves: no index, position before it.
    s3.delete_object(Bucket=bucket, Key=index_key)
    before = objects(s3, bucket)
    shutil.rmtree(queue / "readers")

    rerun = run_archiver(cmd, env)

    assert rerun.returncode == 0, rerun.stderr
    after = objects(s3, bucket)
    assert s3.get_object(Bucket=bucket, Key=index_key)["Body"].read() == index
    assert {k: v for k, v in after.items() if k != index_key} == before  # nothing else uploaded again
    downloaded = Mirror(s3, bucket, tmp_path / "mirror").sync() / "a"
    assert_metadata_consistent(downloaded)
    assert_final_files_are_whole(downloaded, {p.name: p.read_bytes() for p in queue.glob("*.q")})


def test_a_segment_whose_first_record_is_damaged_is_dated_by_its_good_records(
    seaweed: SeaweedServer, s3: Any, bucket: str, tmp_path: Path
) -> None:
    queue = tmp_path / "queue"
    with QueueWriter(queue, segment_size=64 * 1024, retention=False) as writer:
        writer.append(b'{"late": "the day before"}', timestamp_ns=MIDNIGHT_NS - 1)
        for seq in range(50):
            writer.append(b'{"px": %d}' % seq, timestamp_ns=MIDNIGHT_NS + seq)
        writer.roll()
    segment = queue / segment_name(0)
    first = next(iter(iter_records(segment.read_bytes())))
    image = bytearray(segment.read_bytes())
    image[first.offset + 64] ^= 0x01  # its payload no longer matches its CRC: the record is not good
    segment.write_bytes(image)

    result = run_archiver(
        s3_archiver_cmd(queue, f"s3://{bucket}/a", VENUE, seaweed, "--once", "--compress"), credentials_env(tmp_path)
    )

    assert result.returncode == 0, result.stderr
    # By its headers it would be 2026-01-23; by its good records it is the 24th, and only there.
    assert sorted(objects(s3, bucket)) == [
        PARTITION + "000000000.meta.json",
        PARTITION + "000000000.q.zst",
        PARTITION + "000000000.q.zst.idx",
        PARTITION + "meta.json",
    ]
    assert uploads_in(s3, bucket) == []  # the upload begun under the 23rd was aborted
    entry = json.loads(s3.get_object(Bucket=bucket, Key=PARTITION + "000000000.meta.json")["Body"].read())
    assert entry["event_time_range"] == [MIDNIGHT_NS, MIDNIGHT_NS + 49]
    assert entry["record_count"] == 50
