"""The fleet JSON Schema: where it lives, and a validator that also bounds unit strings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.protocols import Validator

from supervisor_app.units import parse_duration, parse_size

SCHEMA_RESOURCE = "fleet.schema.json"

_BOUND_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_Keyword = Callable[[Validator, Any, Any, dict[str, Any]], Iterator[ValidationError]]


def schema_text() -> str:
    """The schema as shipped inside the package (identical to schemas/fleet.schema.json)."""
    return resources.files("supervisor_app.config").joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The schema as a dict."""
    return json.loads(schema_text())


def unit_kind(schema: dict[str, Any]) -> str | None:
    """`duration` or `size` for a property whose schema refers to that definition, else None."""
    kind = str(schema.get("$ref", "")).rpartition("/")[2]
    return kind if kind in ("duration", "size") else None


def fleet_validator(schema: dict[str, Any] | None = None) -> Validator:
    """A 2020-12 validator whose numeric bounds also apply to durations and sizes written as strings."""
    keywords = {name: _unit_aware(Draft202012Validator.VALIDATORS[name]) for name in _BOUND_KEYWORDS}
    validator_class = validators.extend(Draft202012Validator, validators=keywords)
    return validator_class(load_schema() if schema is None else schema)


def _unit_aware(keyword: _Keyword) -> _Keyword:
    """Wrap a bound keyword so '90s' is compared as 90; the error still shows '90s'."""

    def check(validator: Validator, bound: Any, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
        yield from keyword(validator, bound, _as_number(instance, unit_kind(schema)), schema)

    return check


def _as_number(instance: Any, kind: str | None) -> Any:
    if not isinstance(instance, str) or kind is None:
        return instance
    number = parse_duration(instance) if kind == "duration" else parse_size(instance)
    return instance if number is None else number
