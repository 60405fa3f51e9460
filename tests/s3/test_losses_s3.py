"""Recorded losses in an object store: a queue reset and a corrupt segment are recorded as objects and fail verify."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from supervisor_app.chronicle import iter_records, segment_name
from tests.archive.archive_checks import assert_final_files_are_whole
from tests.archive.queue_builders import START_NS
from tests.archive.test_queue_reset import DAY_NS, fill, recreate
from tests.commands import FLEET
from tests.s3.seaweed import SeaweedServer
from tests.s3.store_helpers import Mirror, credentials_env, run_archiver, s3_archiver_cmd

VENUE = "okx"


def verify(seaweed: SeaweedServer, url: str, env: dict[str, str], *extra: str) -> tuple[int, dict[str, Any]]:
    cmd = [*FLEET, "verify", "--archive-root", url, "--s3-endpoint", seaweed.endpoint, "--format", "json", *extra]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    return result.returncode, json.loads(result.stdout)


def test_a_queue_reset_is_recorded_in_the_store_and_fails_verify(
    seaweed: SeaweedServer, s3: Any, bucket: str, tmp_path: Path
) -> None:
    queue, env, url = tmp_path / "queue", credentials_env(tmp_path), f"s3://{bucket}/a"
    fill(queue, sealed=5, start_ns=START_NS, seed=1)
    assert run_archiver(s3_archiver_cmd(queue, url, VENUE, seaweed, "--once"), env).returncode == 0
    recreate(queue)
    second = fill(queue, sealed=2, start_ns=START_NS + DAY_NS, seed=2)  # ids 0-3, all below the position 5

    result = run_archiver(s3_archiver_cmd(queue, url, VENUE, seaweed, "--once"), env)

    assert result.returncode == 0, result.stderr
    [reset] = [json.loads(line) for line in result.stderr.splitlines() if '"queue_reset"' in line]
    assert reset["record"] == f"{url}/raw/v1/{VENUE}/queue-resets.json"
    record = json.loads(s3.get_object(Bucket=bucket, Key=f"a/raw/v1/{VENUE}/queue-resets.json")["Body"].read())
    [recorded] = record["queue_resets"]
    assert (recorded["previous_position"], recorded["oldest_segment"]) == (5, 0)
    day_two = Mirror(s3, bucket, tmp_path / "mirror").sync() / f"a/raw/v1/{VENUE}/2026-01-25/raw"
    assert_final_files_are_whole(day_two, second)
    code, report = verify(seaweed, url, env)
    assert code == 1
    assert [p["path"] for p in report["problems"]] == [reset["record"]]
    assert "restarted its segment ids" in report["problems"][0]["message"]

    code, report = verify(seaweed, url, env, "--acknowledge", f"{VENUE}:resets", "--by", "alice")
    assert code == 0, report
    assert report["problems"] == [] and len(report["acknowledged"]) == 1
    assert report["acknowledgements_written"][0]["by"] == "alice"
    record = json.loads(s3.get_object(Bucket=bucket, Key=f"a/raw/v1/{VENUE}/acknowledged-losses.json")["Body"].read())
    assert [a["queue_resets"] for a in record["acknowledgements"]] == [[{"detected_at_ns": recorded["detected_at_ns"]}]]


def test_a_corrupt_segment_is_archived_as_it_is_and_fails_verify(
    seaweed: SeaweedServer, s3: Any, bucket: str, tmp_path: Path
) -> None:
    queue, env, url = tmp_path / "queue", credentials_env(tmp_path), f"s3://{bucket}/a"
    fill(queue, sealed=2, start_ns=START_NS, seed=1)
    segment = queue / segment_name(1)
    record = list(iter_records(segment.read_bytes()))[10]
    image = bytearray(segment.read_bytes())
    image[record.offset + 64] ^= 0x01  # a payload byte: the record fails its CRC-32
    segment.write_bytes(image)

    result = run_archiver(s3_archiver_cmd(queue, url, VENUE, seaweed, "--once", "--compress"), env)

    assert result.returncode == 0, result.stderr
    [corrupt] = [json.loads(line) for line in result.stderr.splitlines() if '"segment_corrupt"' in line]
    assert (corrupt["segment_id"], corrupt["first_bad_offset"]) == (1, record.offset)
    assert corrupt["destination"] == f"{url}/raw/v1/{VENUE}/2026-01-24/raw"
    key = f"a/raw/v1/{VENUE}/2026-01-24/raw/000000001.meta.json"
    entry = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert (entry["bad_record_count"], entry["first_bad_offset"], entry["dated_by"]) == (
        1,
        record.offset,
        "good_records",
    )
    tree = Mirror(s3, bucket, tmp_path / "mirror").sync() / f"a/raw/v1/{VENUE}/2026-01-24/raw"
    sources = {p.name: p.read_bytes() for p in queue.glob("*.q")}
    assert sources[segment.name] == bytes(image)
    assert_final_files_are_whole(tree, sources)  # the damaged segment too, as it was
    code, report = verify(seaweed, url, env)
    assert code == 1
    [problem] = report["problems"]
    assert problem["path"] == f"s3://{bucket}/{key}" and "was corrupt in the source queue" in problem["message"]
    code, report = verify(seaweed, url, env, "--acknowledge", f"{VENUE}:1", "--by", "bob", "--reason", "T-42")
    assert code == 0 and report["problems"] == []
    [acknowledged] = report["acknowledged"]
    assert "acknowledged by bob" in acknowledged["message"] and "T-42" in acknowledged["message"]
