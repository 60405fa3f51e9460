"""s3:// archive roots in the fleet config: resolved, overridden per venue, shown, checked, rendered without secrets."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from supervisor_app.archive_root import S3Root, StoreSettings, parse_archive_root, parse_s3_url
from supervisor_app.config import config_as_data, fleet_config_problems, load_fleet_config
from supervisor_app.supervision.render import archiver_argv, render
from tests.config.sample_configs import MINIMAL, write_config

S3_FLEET = """\
version: 1
archive_root: s3://market-archive/fleet-a/
object_store:
  endpoint: http://10.0.0.5:8333
  region: eu-west-1
  addressing_style: path
supervisor:
  state_dir: state
venues:
  - name: okx
    queue: q/okx
  - name: bybit
    queue: q/bybit
    archive_root: s3://other-bucket
  - name: coinbase
    queue: q/coinbase
    archive_root: local-archive
"""


def test_s3_roots_resolve_per_venue_and_local_overrides_resolve_against_the_file(tmp_path: Path) -> None:
    config = load_fleet_config(write_config(tmp_path, S3_FLEET))
    assert config.archive_root == S3Root("market-archive", "fleet-a")
    assert config.object_store == StoreSettings("http://10.0.0.5:8333", "eu-west-1", "path")
    okx, bybit, coinbase = config.venues
    assert coinbase.archive_root == tmp_path / "local-archive"
    assert [config.archive_root_of(v) for v in config.venues] == [
        S3Root("market-archive", "fleet-a"),
        S3Root("other-bucket", ""),
        tmp_path / "local-archive",
    ]
    assert okx.archive_root is None and bybit.archive_root == S3Root("other-bucket")


def test_show_config_output_is_a_valid_config_that_resolves_the_same(tmp_path: Path) -> None:
    config = load_fleet_config(write_config(tmp_path, S3_FLEET))
    shown = config_as_data(config)
    assert shown["archive_root"] == "s3://market-archive/fleet-a"
    assert shown["object_store"] == {
        "addressing_style": "path",
        "endpoint": "http://10.0.0.5:8333",
        "region": "eu-west-1",
    }
    assert [v.get("archive_root") for v in shown["venues"]] == [
        None,
        "s3://other-bucket",
        str(tmp_path / "local-archive"),
    ]
    again = load_fleet_config(write_config(tmp_path / "again", json.dumps(shown)))
    assert config_as_data(again) == shown


def test_a_local_config_shows_no_object_store(tmp_path: Path) -> None:
    assert "object_store" not in config_as_data(load_fleet_config(write_config(tmp_path, MINIMAL)))


def test_an_s3_root_overlaps_no_source_but_a_local_venue_root_inside_a_queue_is_refused(tmp_path: Path) -> None:
    # The fleet's root has the queue's relative path as its key prefix: still nothing on this disk.
    text = MINIMAL.replace("archive_root: archive", "archive_root: s3://archive/q")
    assert fleet_config_problems(write_config(tmp_path / "a", text)) == []
    inside = MINIMAL + "    archive_root: q/archive\n"
    (problem,) = fleet_config_problems(write_config(tmp_path / "b", inside))
    assert problem.path == "venues[0].archive_root" and "lies inside the source" in problem.message


def test_the_archiver_command_names_the_store_and_no_credentials(tmp_path: Path) -> None:
    config = load_fleet_config(write_config(tmp_path, S3_FLEET))
    okx, bybit, coinbase = (archiver_argv(config, v, "/usr/bin/python3") for v in config.venues)
    store = ["--s3-endpoint", "http://10.0.0.5:8333", "--s3-region", "eu-west-1", "--s3-addressing-style", "path"]
    assert okx[okx.index("--archive-root") : okx.index("--archive-root") + 8] == [
        "--archive-root",
        "s3://market-archive/fleet-a",
        *store,
    ]
    assert bybit[bybit.index("--archive-root") + 1] == "s3://other-bucket"
    assert coinbase[coinbase.index("--archive-root") + 1] == str(tmp_path / "local-archive")
    assert "--s3-endpoint" not in coinbase
    (tmp_path / "state").mkdir()
    rendered = render(config, "/usr/bin/python3").text
    assert "s3://market-archive/fleet-a" in rendered and "secret" not in rendered.lower()
    commands = [line.removeprefix("command=") for line in rendered.splitlines() if line.startswith("command=")]
    assert [shlex.split(c)[shlex.split(c).index("--archive-root") + 1] for c in commands] == [
        "s3://market-archive/fleet-a",
        "s3://other-bucket",
        str(tmp_path / "local-archive"),
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("s3://", "no bucket name after s3://"),
        ("s3://ab/x", "bucket name 'ab' is not 3 to 63"),
        ("s3://192.168.0.1/x", "is an IP address"),
        ("s3://bucket//x", "empty, '.' or '..' part"),
        ("s3://bucket/a/../b", "empty, '.' or '..' part"),
        ("s3://bucket/a;b", "the key prefix holds ';'"),
    ],
)
def test_bad_s3_urls_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_s3_url(text)
    assert problem in str(raised.value)


def test_s3_urls_and_their_keys() -> None:
    root = parse_s3_url("s3://archive.example-1/fleet/a/")
    assert (root.bucket, root.prefix, root.url) == ("archive.example-1", "fleet/a", "s3://archive.example-1/fleet/a")
    assert root.key("raw", "v1") == "fleet/a/raw/v1"
    assert S3Root("b-1").key("raw") == "raw"
    assert parse_archive_root("relative/dir") == Path("relative/dir")
