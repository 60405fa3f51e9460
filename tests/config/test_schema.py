"""The shipped JSON Schema: valid 2020-12, documented everywhere, closed, bounded, and in step with the code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from supervisor_app.config import (
    ArchiverSettings,
    CompressionPolicy,
    LogSettings,
    RestartPolicy,
    SupervisorSettings,
)
from supervisor_app.config.schema import fleet_validator, load_schema, schema_text
from supervisor_app.units import (
    DURATION_PATTERN,
    SIZE_PATTERN,
    parse_duration,
    parse_size,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_schema()


def properties(schema: dict[str, Any], where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property schema in `schema`, by a dotted name, recursively (including $defs)."""
    for name, child in schema.get("properties", {}).items():
        yield f"{where}.{name}", child
        yield from properties(child, f"{where}.{name}")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        yield f"{where}.*", extra
    for name, child in schema.get("$defs", {}).items():
        yield from properties(child, f"$defs.{name}")


def objects(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every object-typed schema with named properties."""
    if schema.get("type") == "object" and "properties" in schema:
        yield schema
    for child in [*schema.get("properties", {}).values(), *schema.get("$defs", {}).values()]:
        yield from objects(child)


def test_schema_is_valid_against_the_2020_12_metaschema(schema: dict[str, Any]) -> None:
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]


def test_packaged_schema_and_repository_copy_are_identical() -> None:
    repository_copy = (REPO / "schemas" / "fleet.schema.json").read_text(encoding="utf-8")
    assert repository_copy == schema_text(), "run: cp supervisor_app/config/fleet.schema.json schemas/"


def test_every_property_has_a_title_and_a_description(schema: dict[str, Any]) -> None:
    found = list(properties(schema))
    assert len(found) > 25
    undocumented = [name for name, child in found if not child.get("title") or not child.get("description")]
    assert undocumented == []


def test_every_object_refuses_unknown_keys(schema: dict[str, Any]) -> None:
    found = list(objects(schema))
    assert len(found) >= 7
    assert all(child.get("additionalProperties") is False for child in found)
    assert (
        schema["properties"]["buses"]["additionalProperties"]["$ref"] == "#/$defs/path"
    )  # a map: closed by its value schema


def test_every_number_is_bounded_and_every_string_constrained(schema: dict[str, Any]) -> None:
    for name, child in properties(schema):
        target = schema["$defs"][child["$ref"].rpartition("/")[2]] if "$ref" in child else child
        kinds = target.get("type", [])
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if {"integer", "number"} & set(kinds):
            assert {"minimum", "exclusiveMinimum"} & set(child) and "maximum" in child, name
        if "string" in kinds:
            assert "pattern" in target or "enum" in target, name


def test_defaults_in_the_schema_are_the_dataclass_defaults(schema: dict[str, Any]) -> None:
    defs, top = schema["$defs"], schema["properties"]
    compression = {key: value["default"] for key, value in defs["compression"]["properties"].items()}
    assert (
        CompressionPolicy(**{**compression, "block_size": parse_size(compression["block_size"])}) == CompressionPolicy()
    )
    archiver = defs["archiver"]["properties"]
    assert (
        ArchiverSettings(
            poll_ms=round(parse_duration(archiver["poll_interval"]["default"]) * 1000),  # type: ignore[operator]
            reader_name=archiver["reader_name"]["default"],
        )
        == ArchiverSettings()
    )
    restart = {key: parse_duration(value["default"]) for key, value in top["restart"]["properties"].items()}
    assert RestartPolicy(restart["initial_delay"], restart["max_delay"], restart["healthy_after"]) == RestartPolicy()  # type: ignore[arg-type]
    supervisor = top["supervisor"]["properties"]
    logs = LogSettings(
        supervisor["log_dir"]["default"],
        parse_size(supervisor["log_max_bytes"]["default"]),
        supervisor["log_backups"]["default"],
    )  # type: ignore[arg-type]
    assert logs == LogSettings()
    assert parse_duration(supervisor["stop_timeout"]["default"]) == SupervisorSettings(Path("s")).stop_timeout_s
    assert defs["venue"]["properties"]["enabled"]["default"] is True


def test_unit_patterns_are_the_ones_the_code_parses(schema: dict[str, Any]) -> None:
    assert schema["$defs"]["duration"]["pattern"] == DURATION_PATTERN
    assert schema["$defs"]["size"]["pattern"] == SIZE_PATTERN


def test_venue_reader_and_bus_names_share_one_strict_pattern(schema: dict[str, Any]) -> None:
    patterns = {schema["$defs"][name]["pattern"] for name in ("venue_name", "reader_name", "bus_name")}
    assert len(patterns) == 1


@pytest.mark.parametrize("name", ["okx", "binance-perp", "a", "0x", "a.b_c-d", "a" * 64, "1inch"])
def test_good_venue_names_pass(name: str) -> None:
    assert list(fleet_validator(_name_schema()).iter_errors(name)) == []


@pytest.mark.parametrize(
    "name", ["", "A", "../x", "a/b", ".a", "-a", "_a", "a\n", "a\nb", "a;b", "a%b", "a[b", "a b", "é", "a" * 65]
)
def test_bad_venue_names_fail(name: str) -> None:
    assert list(fleet_validator(_name_schema()).iter_errors(name)) != []


def _name_schema() -> dict[str, Any]:
    return load_schema()["$defs"]["venue_name"]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("10ms", True),
        ("9ms", False),
        ("60s", True),
        ("61s", False),
        ("1m", True),
        (0.01, True),
        (0.009, False),
        (61, False),
    ],
)
def test_bounds_apply_to_durations_written_with_units(value: object, valid: bool) -> None:
    config = {"defaults": {"archiver": {"poll_interval": value}}}
    errors = [e for e in fleet_validator().iter_errors(config) if e.validator != "required"]
    assert (errors == []) is valid, [e.message for e in errors]


@pytest.mark.parametrize(
    ("value", "valid"), [("64KiB", True), ("63KiB", False), ("64MiB", True), ("65 MiB", False), (65536, True)]
)
def test_bounds_apply_to_sizes_written_with_units(value: object, valid: bool) -> None:
    config = {"defaults": {"compression": {"block_size": value}}}
    errors = [e for e in fleet_validator().iter_errors(config) if e.validator != "required"]
    assert (errors == []) is valid, [e.message for e in errors]


def test_repository_schema_is_what_the_example_configs_point_editors_at() -> None:
    for config in (REPO / "configs").glob("*.yaml"):
        first_line = config.read_text(encoding="utf-8").splitlines()[0]
        assert first_line == "# yaml-language-server: $schema=../schemas/fleet.schema.json", config
        assert json.loads((config.parent / "../schemas/fleet.schema.json").read_text(encoding="utf-8"))["$id"]
