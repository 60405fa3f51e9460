"""A catalogue of bad configs: each must fail `validate-config` with exit 1, at the right line:column, in plain words."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from supervisor_app.cli import exit_codes
from supervisor_app.cli.fleet import main
from tests.config.sample_configs import BUS_HEAD

HEAD = BUS_HEAD  # lines 1-7 of most cases; the venue list follows from line 8
ONE_VENUE = HEAD + "  - name: okx\n    bus: main\n"


@dataclass(frozen=True)
class Case:
    """One bad config: its text, where the problem must point, and the start of its message."""

    id: str
    text: str
    where: str  # "LINE:COLUMN"
    says: str  # "path: message", a prefix of the line after the position; {dir} is the file's directory
    count: int = 1  # how many problems in all: one defect should not cause a cascade


def venue(*lines: str) -> str:
    """HEAD with one venue made of `lines` (each indented under `- `) from line 8 on."""
    return HEAD + "  - " + "\n    ".join(lines) + "\n"


BAD_NAME = "is not a valid venue name (lowercase letters, digits, '.', '_', '-'; starts with a letter or digit; at most 64 characters)"

# (case label, the name as written in YAML, the name as the message shows it)
BAD_VENUE_NAMES = [
    ("dotdot", "../x", "'../x'"),
    ("slash", "a/b", "'a/b'"),
    ("upper", "A", "'A'"),
    ("empty", '""', "''"),
    ("newline", '"a\\nb"', "'a\\nb'"),
    ("trailing-newline", '"ab\\n"', "'ab\\n'"),
    ("semicolon", '"a;b"', "'a;b'"),
    ("percent", '"a%b"', "'a%b'"),
    ("bracket", '"[a]"', "'[a]'"),
    ("leading-dot", ".hidden", "'.hidden'"),
    ("65-chars", "a" * 65, "'" + "a" * 56 + "..."),
]

CASES = [
    # Watchdogs, resources and metrics
    Case(
        "stall-timeout-past-the-writer",
        venue("name: okx", "bus: main", "archiver: {stall_timeout: 30s}"),
        "10:31",
        "venues[0].archiver.stall_timeout: '30s' is greater than the maximum of 20s",
    ),
    Case(
        "cpu-range-reversed",
        venue("name: okx", "bus: main", "archiver: {resources: {cpu_affinity: '3-1'}}"),
        "10:42",
        "venues[0].archiver.resources.cpu_affinity: the range '3-1' is empty: write the lower core first",
    ),
    Case(
        "io-class-unknown",
        venue("name: okx", "bus: main", "archiver: {resources: {io_class: realtime}}"),
        "10:38",
        "venues[0].archiver.resources.io_class: 'realtime' is not one of 'idle', 'best-effort'",
    ),
    Case(
        "metrics-port-too-big",
        HEAD.replace("state_dir: state", "state_dir: state\n  metrics: {listen: 70000}")
        + "  - name: okx\n    bus: main\n",
        "7:21",
        "supervisor.metrics.listen: 70000 is greater than the maximum of 65535",
    ),
    Case(
        "metrics-port-in-text-too-big",
        HEAD.replace("state_dir: state", "state_dir: state\n  metrics: {listen: ':70000'}")
        + "  - name: okx\n    bus: main\n",
        "7:21",
        "supervisor.metrics.listen: port 70000 is outside 1..65535",
    ),
    Case(
        "metrics-empty",
        HEAD.replace("state_dir: state", "state_dir: state\n  metrics: {}") + "  - name: okx\n    bus: main\n",
        "7:12",
        "supervisor.metrics: needs 'listen' or 'textfile' (or remove it)",
    ),
    # Object stores
    Case(
        "s3-bucket-name-invalid",
        ONE_VENUE.replace("archive_root: archive", "archive_root: s3://Archive_Bucket/raw"),
        "2:15",
        "archive_root: 's3://Archive_Bucket/raw': bucket name 'Archive_Bucket' is not 3 to 63 lowercase letters",
    ),
    Case(
        "s3-prefix-double-slash",
        venue("name: okx", "bus: main", "archive_root: s3://archive/fleet//x"),
        "10:19",
        "venues[0].archive_root: 's3://archive/fleet//x': the key prefix has an empty, '.' or '..' part",
    ),
    Case(
        "s3-endpoint-with-a-path",
        ONE_VENUE + "object_store: {endpoint: 'https://store.example/bucket'}\n",
        "10:26",
        "object_store.endpoint: 'https://store.example/bucket' is not a valid endpoint (http:// or https://, a host",
    ),
    Case(
        "s3-credentials-in-the-config",
        ONE_VENUE + "object_store:\n  aws_secret_access_key: hunter2\n",
        "11:3",
        "object_store: unknown key 'aws_secret_access_key'",
    ),
    # Wrong types
    Case(
        "level-not-int",
        venue("name: okx", "bus: main", "compression: {level: high}"),
        "10:26",
        "venues[0].compression.level: expected an integer, got the string 'high'",
    ),
    Case(
        "enabled-quoted-yes",
        venue("name: okx", "bus: main", 'enabled: "yes"'),
        "10:14",
        "venues[0].enabled: expected true or false, got the string 'yes'",
    ),
    Case("venues-is-mapping", HEAD + "  name: okx\n", "8:3", "venues: expected a list, got a mapping"),
    Case(
        "supervisor-is-list",
        "version: 1\narchive_root: a\nsupervisor: [state]\nvenues:\n  - {name: okx, queue: q}\n",
        "3:13",
        "supervisor: expected a mapping, got a list",
    ),
    Case("document-is-list", "- version: 1\n- archive_root: a\n", "1:1", "expected a mapping, got a list"),
    Case(
        "poll-interval-bool",
        venue("name: okx", "bus: main", "archiver: {poll_interval: true}"),
        "10:31",
        "venues[0].archiver.poll_interval: expected a duration (seconds as a number, or a number with a unit",
    ),
    Case(
        "bus-root-is-number",
        HEAD.replace("main: bus", "main: 5") + "  - {name: okx, bus: main}\n",
        "4:9",
        "buses.main: expected a string, but YAML reads unquoted 5 as the number 5; quote it: '5'",
    ),
    # Out of range and not one of the choices
    Case(
        "level-too-high",
        venue("name: okx", "bus: main", "compression:", "  level: 30"),
        "11:14",
        "venues[0].compression.level: 30 is greater than the maximum of 22",
    ),
    Case(
        "level-zero",
        venue("name: okx", "bus: main", "compression: {level: 0}"),
        "10:26",
        "venues[0].compression.level: 0 is less than the minimum of 1",
    ),
    Case(
        "block-size-string-too-big",
        venue("name: okx", "bus: main", "compression: {block_size: 128MiB}"),
        "10:31",
        "venues[0].compression.block_size: '128MiB' is greater than the maximum of 64 MiB",
    ),
    Case(
        "block-size-bytes-too-small",
        venue("name: okx", "bus: main", "compression: {block_size: 1000}"),
        "10:31",
        "venues[0].compression.block_size: 1000 is less than the minimum of 64 KiB",
    ),
    Case(
        "block-size-decimal-unit",
        venue("name: okx", "bus: main", "compression: {block_size: 1MB}"),
        "10:31",
        "venues[0].compression.block_size: '1MB' is not a valid size (bytes as an integer, or an integer with a unit",
    ),
    Case(
        "initial-delay-zero",
        ONE_VENUE + "restart:\n  initial_delay: 0\n",
        "11:18",
        "restart.initial_delay: 0 must be greater than 0s",
    ),
    Case(
        "duration-words",
        ONE_VENUE + "restart:\n  healthy_after: 5 minutes\n",
        "11:18",
        "restart.healthy_after: '5 minutes' is not a valid duration",
    ),
    Case(
        "max-delay-below-initial",
        ONE_VENUE + "restart:\n  initial_delay: 5s\n  max_delay: 1s\n",
        "12:14",
        "restart.max_delay: max_delay (1s) is less than initial_delay (5s)",
    ),
    Case(
        "log-backups-negative",
        HEAD.replace("state_dir: state", "state_dir: state\n  log_backups: -1") + "  - {name: okx, bus: main}\n",
        "7:16",
        "supervisor.log_backups: -1 is less than the minimum of 0",
    ),
    Case(
        "codec-unknown",
        venue("name: okx", "bus: main", "compression: {codec: lz4}"),
        "10:26",
        "venues[0].compression.codec: 'lz4' is not one of 'zstd', 'none'",
    ),
    Case("version-2", ONE_VENUE.replace("version: 1", "version: 2"), "1:10", "version: 2 is not supported; expected 1"),
    Case("no-venues", HEAD.replace("venues:\n", "venues: []\n"), "7:9", "venues: has 0 entries; at least 1 needed"),
    # Unknown keys, at every level
    Case(
        "unknown-top-level", ONE_VENUE + "archive: x\n", "10:1", "unknown key 'archive' (did you mean 'archive_root'?)"
    ),
    Case(
        "unknown-in-defaults",
        ONE_VENUE + "defaults:\n  compresion: {}\n",
        "11:3",
        "defaults: unknown key 'compresion' (did you mean 'compression'?)",
    ),
    Case(
        "unknown-in-default-compression",
        ONE_VENUE + "defaults:\n  compression:\n    lvl: 3\n",
        "12:5",
        "defaults.compression: unknown key 'lvl'",
    ),
    Case("unknown-in-restart", ONE_VENUE + "restart:\n  delay: 1s\n", "11:3", "restart: unknown key 'delay'"),
    Case(
        "unknown-in-supervisor",
        HEAD.replace("state_dir: state", "state_dir: state\n  logdir: logs") + "  - {name: okx, bus: main}\n",
        "7:3",
        "supervisor: unknown key 'logdir' (did you mean 'log_dir'?)",
    ),
    Case(
        "unknown-in-venue",
        venue("name: okx", "bus: main", "compresion: {level: 5}"),
        "10:5",
        "venues[0]: unknown key 'compresion' (did you mean 'compression'?)",
    ),
    Case(
        "unknown-in-venue-archiver",
        venue("name: okx", "bus: main", "archiver:", "  reader: x"),
        "11:7",
        "venues[0].archiver: unknown key 'reader' (did you mean 'reader_name'?)",
    ),
    # Missing required fields
    Case(
        "missing-archive-root",
        ONE_VENUE.replace("archive_root: archive\n", ""),
        "1:1",
        "missing required key 'archive_root'",
    ),
    Case(
        "missing-state-dir",
        ONE_VENUE.replace("  state_dir: state\n", "  log_backups: 3\n"),
        "5:1",
        "supervisor: missing required key 'state_dir'",
    ),
    Case("missing-venue-name", venue("bus: main"), "8:5", "venues[0]: missing required key 'name'"),
    Case("missing-source", venue("name: okx"), "8:5", "venues[0]: needs 'bus' or 'queue'"),
    Case(
        "both-sources",
        venue("name: okx", "bus: main", "queue: q"),
        "10:5",
        "venues[0]: has 'bus' and 'queue'; give only one",
    ),
    # Bad names: venue names become path components, process names and INI values
    *[
        Case(f"venue-{label}", venue(f"name: {written}", "bus: main"), "8:11", f"venues[0].name: {shown} {BAD_NAME}")
        for label, written, shown in BAD_VENUE_NAMES
    ],
    Case(
        "reader-with-slash",
        venue("name: okx", "bus: main", "archiver: {reader_name: readers/x}"),
        "10:29",
        "venues[0].archiver.reader_name: 'readers/x' is not a valid reader name",
    ),
    Case(
        "bus-name-upper",
        HEAD.replace("main: bus", "Main: bus") + "  - {name: okx, queue: q}\n",
        "4:3",
        "buses: 'Main' is not a valid bus name",
    ),
    # Duplicates of every kind
    Case(
        "duplicate-top-level-key",
        ONE_VENUE + "archive_root: elsewhere\n",
        "10:1",
        "archive_root: duplicate key 'archive_root' (first at line 2)",
    ),
    Case(
        "duplicate-venue-key",
        venue("name: okx", "bus: main", "name: okx2"),
        "10:5",
        "venues[0].name: duplicate key 'name' (first at line 8)",
    ),
    Case(
        "duplicate-bus",
        HEAD.replace("main: bus", "main: bus\n  main: bus2") + "  - {name: okx, bus: main}\n",
        "5:3",
        "buses.main: duplicate key 'main' (first at line 4)",
    ),
    Case(
        "duplicate-venue-name",
        ONE_VENUE + "  - name: okx\n    queue: q\n",
        "10:11",
        "venues[1].name: duplicate venue name 'okx' (first at venues[0])",
    ),
    Case(
        "same-queue-same-reader",
        ONE_VENUE + "  - name: okx-again\n    queue: bus/streams/raw/okx/queue\n",
        "11:12",
        "venues[1].queue: reads the same queue as venues[0] with the same reader name 'raw-archiver'",
    ),
    Case(
        "unknown-bus",
        venue("name: okx", "bus: mian"),
        "9:10",
        "venues[0].bus: unknown bus 'mian' (declared buses: 'main')",
    ),
    # Paths that overlap
    Case(
        "archive-inside-bus",
        ONE_VENUE.replace("archive_root: archive", "archive_root: bus/archive"),
        "2:15",
        "archive_root: {dir}/bus/archive lies inside the source at buses.main ({dir}/bus)",
    ),
    Case(
        "archive-is-bus",
        ONE_VENUE.replace("archive_root: archive", "archive_root: ./bus/"),
        "2:15",
        "archive_root: {dir}/bus is the source at buses.main ({dir}/bus)",
    ),
    Case(
        "bus-inside-archive",
        ONE_VENUE.replace("main: bus", "main: archive/bus"),
        "4:9",
        "buses.main: {dir}/archive/bus lies inside archive_root ({dir}/archive)",
    ),
    Case(
        "state-inside-queue",
        HEAD.replace("state_dir: state", "state_dir: q/state") + "  - {name: okx, queue: q}\n",
        "6:14",
        "supervisor.state_dir: {dir}/q/state lies inside the source at venues[0].queue ({dir}/q)",
    ),
    Case(
        "logs-inside-bus",
        HEAD.replace("state_dir: state", "state_dir: state\n  log_dir: bus/logs") + "  - {name: okx, bus: main}\n",
        "7:12",
        "supervisor.log_dir: {dir}/bus/logs lies inside the source at buses.main ({dir}/bus)",
    ),
    # YAML traps
    Case(
        "venue-named-no",
        venue("name: no", "bus: main"),
        "8:11",
        "venues[0].name: expected a string, but YAML reads unquoted no as the boolean false; quote it: 'no'",
    ),
    Case(
        "venue-named-on",
        venue("name: on", "bus: main"),
        "8:11",
        "venues[0].name: expected a string, but YAML reads unquoted on as the boolean true; quote it: 'on'",
    ),
    Case(
        "bool-key",
        ONE_VENUE + "on: 1\n",
        "10:1",
        "key 'on' is not a string: YAML reads unquoted on as the boolean true",
    ),
    Case("int-key", venue("name: okx", "bus: main", "1: x"), "10:5", "venues[0]: key '1' is not a string"),
    Case(
        "merge-key",
        ONE_VENUE + "defaults:\n  compression:\n    <<: {level: 9}\n",
        "12:5",
        "defaults.compression: merge keys ('<<') are not supported",
    ),
    Case(
        "octal-level",
        venue("name: okx", "bus: main", "compression: {level: 010}"),
        "10:26",
        "venues[0].compression.level: YAML 1.1 reads 010 as 8",
    ),
    Case(
        "nan-duration",
        ONE_VENUE + "restart:\n  max_delay: .nan\n",
        "11:14",
        "restart.max_delay: .nan is not a finite number",
    ),
    Case(
        "python-tag",
        ONE_VENUE.replace("archive_root: archive", "archive_root: !!python/object/apply:os.system [echo hi]"),
        "2:15",
        "archive_root: unsupported tag 'tag:yaml.org,2002:python/object/apply:os.system'",
    ),
    Case(
        "alias-bomb",
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(7)),
        "6:1",
        "the document expands to more than 200000 values (aliases?)",
    ),
    Case("recursive-alias", "venues: &v [*v]\n", "1:1", "nested deeper than 32 levels (a recursive alias?)"),
    Case("empty-file", "", "1:1", "the file is empty"),
    Case("only-comments", "# nothing here\n\n", "1:1", "the file is empty"),
    Case("not-yaml", "version: 1\n\tarchive_root: [\n", "2:1", "not valid YAML: "),
    Case(
        "two-documents",
        ONE_VENUE + "---\nversion: 1\n",
        "10:1",
        "not valid YAML: expected a single document in the stream, but found another document",
    ),
    Case("plain-text", "This is not a config, just a sentence.\n", "1:1", "expected a mapping, got the string"),
]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """Exit code, stdout and the file name of every case, run once through the CLI."""
    directory = tmp_path_factory.mktemp("bad")
    results = {}
    for case in CASES:
        path = directory / f"{case.id}.yaml"
        path.write_text(case.text, encoding="utf-8")
        results[case.id] = _run(path)
    return results


def _run(path: Path) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["validate-config", str(path)])
    return code, stdout.getvalue(), str(path)


def test_the_catalogue_is_large_and_its_ids_unique() -> None:
    assert len(CASES) >= 30
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_config_is_reported_at_its_position(case: Case, outputs: dict[str, tuple[int, str, str]]) -> None:
    code, stdout, file = outputs[case.id]
    lines = stdout.splitlines()
    assert code == exit_codes.FAILURE
    expected = f"{file}:{case.where}: " + case.says.replace("{dir}", str(Path(file).parent))
    assert any(line.startswith(expected) for line in lines), f"expected a line starting {expected!r} in:\n{stdout}"
    assert len(lines) == case.count, stdout
