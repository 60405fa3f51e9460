"""`chronicle-fleet run` with two venues archiving to S3 and one to a local directory."""

from __future__ import annotations

from typing import Any

import pytest

from tests.archive.archive_checks import archived_segment_ids, assert_final_files_are_whole, assert_metadata_consistent
from tests.archive.queue_builders import write_queue
from tests.cli.fleet_runner import FleetLauncher, fleet_yaml, wait_until
from tests.s3.seaweed import SeaweedServer
from tests.s3.store_helpers import Mirror, credentials_env, uploads_in

pytestmark = pytest.mark.slow
SEGMENTS = 4


def test_a_fleet_archives_two_venues_to_s3_and_one_locally(
    launcher: FleetLauncher, seaweed: SeaweedServer, s3: Any, bucket: str
) -> None:
    root = launcher.root()
    names = ("alpha", "beta", "gamma")
    sources: dict[str, dict[str, bytes]] = {}
    for name in names:
        queue = root / "bus" / "streams" / "raw" / name / "queue"
        write_queue(queue, segments=SEGMENTS, segment_size=64 * 1024, seed=len(sources))
        sources[name] = {p.name: p.read_bytes() for p in sorted(queue.glob("*.q"))[:SEGMENTS]}
    on_s3 = f"s3://{bucket}/fleet"
    venues = [
        {"name": "alpha", "bus": "main", "archive_root": on_s3},
        {"name": "beta", "bus": "main", "archive_root": on_s3, "compression": {"codec": "none"}},
        {"name": "gamma", "bus": "main"},
    ]
    data = fleet_yaml(root, venues, object_store={"endpoint": seaweed.endpoint})
    fleet = launcher.start(root, data, env=credentials_env(root))

    def archived() -> dict[str, Any] | None:
        status = fleet.try_status()
        positions = {n: (status or {}).get(n, {}).get("archive", {}).get("position_segment") for n in names}
        return status if all(p == SEGMENTS for p in positions.values()) else None

    status = wait_until(archived, timeout=60, what="every venue archived")
    assert status["alpha"]["archive_root"] == on_s3
    assert status["gamma"]["archive_root"] == str(root / "archive")
    assert all(status[n]["state"] == "running" for n in names)

    tree = Mirror(s3, bucket, root / "mirror").sync() / "fleet"
    for name in ("alpha", "beta"):
        venue_tree = tree / "raw" / "v1" / name
        assert archived_segment_ids(venue_tree) == set(range(SEGMENTS))
        assert_final_files_are_whole(venue_tree, sources[name])
    assert_metadata_consistent(tree)
    assert len(list((tree / "raw/v1/alpha").rglob("*.q.zst"))) == SEGMENTS
    assert not list((tree / "raw/v1/beta").rglob("*.q.zst"))
    local = root / "archive" / "raw" / "v1"
    assert sorted(p.name for p in local.iterdir()) == ["gamma"]
    assert archived_segment_ids(local / "gamma") == set(range(SEGMENTS))
    assert_final_files_are_whole(local / "gamma", sources["gamma"])
    assert uploads_in(s3, bucket) == []
    command = (root / "state" / "supervisord.conf").read_text()
    assert f"--s3-endpoint {seaweed.endpoint}" in command and "SECRET" not in command.upper()
