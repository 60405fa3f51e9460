"""Damaged metadata never crashes a tool: the archiver exits 78 naming the file, verify and status report it per venue.

Fuzzed in process (every reader raises CorruptArchiveError naming the file, or accepts only
what metadata.schema.json accepts), and for a fixed list of damages through the real programs.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, validators

from supervisor_app.archive.archiver import ArchiverConfig, RawArchiver
from supervisor_app.archive.layout import ArchiveLayout
from supervisor_app.archive.losses import load_acknowledgements
from supervisor_app.archive.meta import LegacyMeta, load_partition_meta, load_sidecar
from supervisor_app.archive.metadata_files import Fields
from supervisor_app.archive.missing import load_missing
from supervisor_app.archive.progress import archive_progress
from supervisor_app.archive.resets import load_resets
from supervisor_app.chronicle.reader_position import ReaderPosition, load_position, store_position
from supervisor_app.config.model import VenueConfig
from supervisor_app.errors import CorruptArchiveError
from supervisor_app.supervision.plugins.archive_watch import ArchiveWatch
from tests.commands import FLEET, archiver_cmd
from tests.conftest import copy_tree_writable
from tests.reference import REFERENCE_FIXTURES

DAMAGED, HEALTHY = "alpha", "bravo"  # verify visits them in this order: it must go on after the damage
PARTITION = "2026-01-24/raw"
SCHEMA = json.loads((Path(__file__).parents[2] / "supervisor_app/archive/metadata.schema.json").read_text())
DEEP = "[" * 200_000 + "]" * 200_000


def strict_validator(definition: str) -> Any:
    integers = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    strict = validators.extend(Draft202012Validator, type_checker=integers)
    return strict({"$defs": SCHEMA["$defs"], "$ref": f"#/$defs/{definition}"})


def run_archiver(queue: Path, root: Path, venue: str) -> None:
    config = ArchiverConfig(source=queue, archive_root=root, venue=venue)
    RawArchiver(config, log=structlog.get_logger(), stop=threading.Event()).run_once()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two venues archived from the `basic` fixture queue, a segment recorded missing and a queue reset in the first."""
    base = tmp_path_factory.mktemp("template")
    (base / "archive").mkdir()
    for venue in (DAMAGED, HEALTHY):
        queue = copy_tree_writable(REFERENCE_FIXTURES / "basic" / "queue", base / venue)
        run_archiver(queue, base / "archive", venue)
    missing = {"venue": DAMAGED, "missing_segments": [{"segment_id": 9, "detected_at_ns": 1, "reason": "gone"}]}
    (base / "archive/raw/v1" / DAMAGED / "missing-segments.json").write_text(json.dumps(missing, indent=2))
    reset = {"detected_at_ns": 5, "previous_position": 12, "oldest_segment": 0, "newest_segment": 5, "source": "/q"}
    resets = {"venue": DAMAGED, "queue_resets": [reset]}
    (base / "archive/raw/v1" / DAMAGED / "queue-resets.json").write_text(json.dumps(resets, indent=2))
    ack = {
        "by": "alice",
        "at_ns": 7,
        "reason": None,
        "selection": "all",
        "missing": [{"segment_id": 9, "detected_at_ns": 1}],
        "corrupt": [{"date": "2026-01-24", "segment_id": 2}],
        "queue_resets": [{"detected_at_ns": 5}],
    }
    acks = {"venue": DAMAGED, "acknowledgements": [ack]}
    (base / "archive/raw/v1" / DAMAGED / "acknowledged-losses.json").write_text(json.dumps(acks, indent=2))
    return base


def venue_dir(base: Path, venue: str = DAMAGED) -> Path:
    return base / "archive/raw/v1" / venue


# --- in process: every reader, fuzzed ----------------------------------------------------------

HOSTILE = [
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-1",
    "18446744073709551616",
    "5.0",
    "true",
    "null",
    "[]",
    "{}",
    '"ffffffff"',
    '"' + "x" * 100_000 + '"',
    "9" * 5000,
    DEEP,
    '{"a": ' * 100_000 + "1" + "}" * 100_000,
]
SENTINEL = "@@HOSTILE@@"
READERS: dict[str, tuple[str, Callable[[Path], object], str]] = {
    # kind: (file in the template, reader, schema definition of what it accepts)
    "summary": (f"{PARTITION}/meta.json", load_partition_meta, "summary"),
    "sidecar": (f"{PARTITION}/000000001.meta.json", load_sidecar, "sidecar"),
    "missing": ("missing-segments.json", load_missing, "missing_segments"),
    "resets": ("queue-resets.json", load_resets, "queue_resets"),
    "acknowledged": ("acknowledged-losses.json", load_acknowledgements, "acknowledged_losses"),
}


def value_paths(document: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside a JSON document."""
    paths = [prefix]
    items = (
        document.items() if isinstance(document, dict) else enumerate(document) if isinstance(document, list) else []
    )
    for key, value in items:
        paths += value_paths(value, (*prefix, key))
    return paths


def replaced(document: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[path[0]] = replaced(document[path[0]], path[1:], value)
    return copy


@st.composite
def damaged_text(draw: st.DrawFn, original: str) -> str:
    document = json.loads(original)
    how = draw(st.sampled_from(["truncate", "flip", "replace", "drop", "add"]))
    if how == "truncate":
        return original[: draw(st.integers(0, len(original.rstrip()) - 1))]
    if how == "flip":
        at = draw(st.integers(0, len(original) - 1))
        return original[:at] + chr(ord(original[at]) ^ draw(st.integers(1, 127))) + original[at + 1 :]
    paths = [p for p in value_paths(document) if p]
    path = draw(st.sampled_from(paths))
    if how == "drop" and isinstance(path[-1], str):
        container = dict(_at(document, path[:-1]))
        del container[path[-1]]
        return json.dumps(replaced(document, path[:-1], container))
    if how == "add":
        container = _at(document, path[:-1])
        if isinstance(container, dict):
            return json.dumps(replaced(document, path[:-1], {**container, "extra": SENTINEL})).replace(
                json.dumps(SENTINEL), draw(st.sampled_from(HOSTILE))
            )
    return json.dumps(replaced(document, path, SENTINEL)).replace(json.dumps(SENTINEL), draw(st.sampled_from(HOSTILE)))


def _at(document: Any, path: tuple) -> Any:
    for key in path:
        document = document[key]
    return document


@pytest.mark.parametrize("kind", READERS)
def test_every_reader_rejects_damage_by_naming_the_file_and_accepts_only_what_the_schema_does(
    kind: str, template: Path, tmp_path: Path
) -> None:
    relative, reader, definition = READERS[kind]
    original = (venue_dir(template) / relative).read_text()
    validator = strict_validator(definition)
    path = tmp_path / Path(relative).name

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(damaged_text(original))
    def check(text: str) -> None:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            result = reader(path)
        except CorruptArchiveError as exc:
            assert str(exc).startswith(f"{path}: ")
            assert len(str(exc)) < 1000  # a huge value is cut, not echoed
            return
        # Accepted: then the documented schema accepts it too (the reader is no more lenient than the contract).
        accepted_as = strict_validator("legacy") if isinstance(result, LegacyMeta) else validator
        assert accepted_as.is_valid(json.loads(text)), text[:300]

    check()


def test_the_schema_accepts_what_the_archiver_writes(template: Path) -> None:
    for _, (relative, _, definition) in READERS.items():
        document = json.loads((venue_dir(template) / relative).read_text())
        assert strict_validator(definition).is_valid(document), relative


# --- through the programs: a fixed list of damages ----------------------------------------------


def set_field(field: str, token: str) -> Callable[[str], str]:
    """Replace one top-level field's value by a raw JSON token."""

    def damage(text: str) -> str:
        document = json.loads(text)
        document[field] = SENTINEL
        return json.dumps(document, indent=2).replace(json.dumps(SENTINEL), token)

    return damage


DAMAGES: dict[str, Callable[[str], str]] = {
    "truncated": lambda text: text[: len(text) // 2],
    "flipped-byte": lambda text: chr(ord(text[0]) ^ 0x40) + text[1:],
    "1e400": set_field("raw_bytes", "1e400"),
    "nested-200000-deep": set_field("stored_bytes", DEEP),
    "wrong-type": set_field("segment_count", '"4"'),
    "negative": set_field("stored_bytes", "-1"),
    "huge-string": set_field("venue", json.dumps("v" * 1_000_000)),
}
SIDECAR_DAMAGES = {
    "truncated": DAMAGES["truncated"],
    "1e400": set_field("raw_size", "1e400"),
    "nested-200000-deep": set_field("files", DEEP),
    "huge-string": set_field("raw_crc32", json.dumps("f" * 1_000_000)),
    "escaping-file-name": set_field("files", '[{"name": "../../../etc/passwd", "size": 1}]'),
}
MISSING_DAMAGES = {
    "truncated": DAMAGES["truncated"],
    "1e400": lambda text: text.replace('"segment_id": 9', '"segment_id": 1e400'),
    "negative": lambda text: text.replace('"detected_at_ns": 1', '"detected_at_ns": -1'),
}


def rewind(queue: Path, segment_id: int) -> None:
    path = queue / "readers" / "raw-archiver.meta"
    current = load_position(path)
    store_position(path, ReaderPosition(segment_id, 64, current.heartbeat_ns, current.generation))


def make_the_archiver_read(target: str, queue: Path) -> None:
    """Move a damaged venue's reader back so that its next pass needs the damaged file."""
    if target == "summary":
        rewind(queue, 3)  # recording segment 3 again reads meta.json
    elif target == "sidecar":
        rewind(queue, 1)  # recording segment 1 again reads its sidecar
    else:
        rewind(queue, 0)  # segment 0 gone from the queue: recording it missing reads the record
        (queue / "000000000.q").unlink()


TARGETS = {
    "summary": (f"{PARTITION}/meta.json", DAMAGES),
    "sidecar": (f"{PARTITION}/000000001.meta.json", SIDECAR_DAMAGES),
    "missing": ("missing-segments.json", MISSING_DAMAGES),
}
CASES = [(target, name) for target, (_, damages) in TARGETS.items() for name in damages]


def case_venue(target: str, damage: str) -> str:
    return f"damaged-{target}-{damage}"  # sorts before the healthy venue: verify must go on after them


@pytest.fixture(scope="module")
def damaged_fleet(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One archive root: a venue per case, each with one damaged metadata file, and the healthy venue."""
    base = tmp_path_factory.mktemp("fleet")
    shutil.copytree(venue_dir(template, HEALTHY), venue_dir(base, HEALTHY))
    shutil.copytree(template / HEALTHY, base / HEALTHY)
    for target, damage in CASES:
        venue = case_venue(target, damage)
        shutil.copytree(venue_dir(template), venue_dir(base, venue))
        shutil.copytree(template / DAMAGED, base / venue)
        relative, damages = TARGETS[target]
        damaged = venue_dir(base, venue) / relative
        damaged.write_text(damages[damage](damaged.read_text()))
        make_the_archiver_read(target, base / venue)
    return base


@pytest.mark.slow
@pytest.mark.parametrize(("target", "damage"), CASES, ids=[f"{t}-{d}" for t, d in CASES])
def test_the_archiver_exits_78_naming_the_damaged_file(target: str, damage: str, damaged_fleet: Path) -> None:
    venue = case_venue(target, damage)
    queue, damaged = damaged_fleet / venue, venue_dir(damaged_fleet, venue) / TARGETS[target][0]
    before = damaged.read_bytes()
    position = load_position(queue / "readers" / "raw-archiver.meta").segment_id
    result = subprocess.run(
        archiver_cmd(queue, damaged_fleet / "archive", venue, "--once"), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 78, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    [failure] = [json.loads(line) for line in result.stderr.splitlines() if '"archiver_failed"' in line]
    assert failure["error"].startswith(f"{damaged}: ") and failure["error_type"] == "CorruptArchiveError"
    assert load_position(queue / "readers" / "raw-archiver.meta").segment_id == position
    assert damaged.read_bytes() == before  # left as found, for a person to look at


@pytest.mark.slow
def test_verify_names_every_damaged_file_and_still_verifies_the_healthy_venue(damaged_fleet: Path) -> None:
    result = subprocess.run(
        [*FLEET, "verify", "--archive-root", str(damaged_fleet / "archive"), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    named = {p["path"] for p in report["problems"]}
    for target, damage in CASES:
        assert str(venue_dir(damaged_fleet, case_venue(target, damage)) / TARGETS[target][0]) in named
    assert not [p for p in report["problems"] if f"/{HEALTHY}/" in p["path"]]
    # Every segment but the ones whose own sidecar is damaged was decoded and checked, the healthy venue's too.
    assert report["segments"] == 4 * (len(CASES) + 1) - len(SIDECAR_DAMAGES)


def test_status_progress_raises_corrupt_archive_error_for_a_damaged_summary(damaged_fleet: Path) -> None:
    for damage in DAMAGES:
        venue = case_venue("summary", damage)
        layout = ArchiveLayout(damaged_fleet / "archive", venue)
        with pytest.raises(CorruptArchiveError, match=r"meta\.json: "):
            archive_progress(damaged_fleet / venue, "raw-archiver", layout, time.time_ns())


def test_status_shows_damaged_metadata_for_its_venue_alone(template: Path, tmp_path: Path) -> None:
    base = tmp_path / "case"
    shutil.copytree(template, base)
    meta = venue_dir(base) / PARTITION / "meta.json"
    meta.write_text(DAMAGES["1e400"](meta.read_text()))
    venues = [VenueConfig(v, base / v, "queue") for v in (DAMAGED, HEALTHY)]
    watch = ArchiveWatch(base / "archive", venues, log=structlog.get_logger())
    watch.observe()  # what `status` shows is the watch's last round
    damaged_row, healthy_row = (watch.snapshot()[v].as_status() for v in (DAMAGED, HEALTHY))
    assert str(meta) in damaged_row["error"] and "raw_bytes" in damaged_row["error"]
    assert damaged_row["risk_reasons"] == ["unreadable"]
    assert healthy_row["last_archived_segment"] == 3


def test_status_reads_only_the_newest_partition(template: Path, tmp_path: Path) -> None:
    """An older partition's meta.json is not read (damaged, it changes nothing): status costs O(1) per venue."""
    base = tmp_path / "case"
    shutil.copytree(template, base)
    older = venue_dir(base) / "2026-01-23/raw"
    older.mkdir(parents=True)
    (older / "meta.json").write_text(DEEP)
    progress = archive_progress(base / DAMAGED, "raw-archiver", ArchiveLayout(base / "archive", DAMAGED), 0)
    assert progress.last_archived_segment == 3


def test_a_seeded_random_damage_sweep_never_escapes_as_another_exception(template: Path, tmp_path: Path) -> None:
    """Bytes-level noise (not JSON-aware): any byte anywhere, including invalid UTF-8."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    for kind, (relative, reader, _) in READERS.items():
        original = (venue_dir(template) / relative).read_bytes()
        path = tmp_path / f"{kind}-{Path(relative).name}"
        for _ in range(200):
            data = bytearray(original)
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            path.write_bytes(bytes(data))
            try:
                reader(path)
            except CorruptArchiveError as exc:
                assert str(exc).startswith(f"{path}: "), f"seed={seed}"


@pytest.mark.parametrize("value", [1, 0, "true", None, 1.0])
def test_a_flag_is_only_true_or_false(value: object, tmp_path: Path) -> None:
    fields = Fields({"truncated": value, "ok": False}, tmp_path / "x.meta.json")
    assert fields.boolean("ok") is False
    with pytest.raises(CorruptArchiveError, match=r"x\.meta\.json: truncated: .* is not true or false"):
        fields.boolean("truncated")
