"""Schema errors become findings: one per problem, in an operator's words, at the right node."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from jsonschema import ValidationError
from jsonschema.protocols import Validator

from supervisor_app.config.positions import Positions
from supervisor_app.config.problems import DataPath, Finding
from supervisor_app.config.schema import unit_kind
from supervisor_app.config.wording import describe_value, show_value, unquoted_reading
from supervisor_app.units import show_duration, show_size

_TYPE_NAMES = (
    ("string", "a string"),
    ("integer", "an integer"),
    ("number", "a number"),
    ("boolean", "true or false"),
    ("object", "a mapping"),
    ("array", "a list"),
    ("null", "null"),
)
_BOUND_WORDS = (
    ("minimum", "is less than the minimum of"),
    ("maximum", "is greater than the maximum of"),
    ("exclusiveMinimum", "must be greater than"),
    ("exclusiveMaximum", "must be less than"),
)


@dataclass(frozen=True)
class _Error:
    """The parts of a jsonschema ValidationError the explanations read, typed (its own are loose unions)."""

    validator: str  # the failing keyword: "type", "required", ...
    validator_value: Any  # the keyword's value in the schema
    schema: dict[str, Any]  # the schema fragment holding the keyword
    instance: Any  # the value that failed
    message: str
    relative_schema_path: tuple[str | int, ...]

    @classmethod
    def of(cls, error: ValidationError) -> _Error:
        schema = error.schema if isinstance(error.schema, dict) else {}
        return cls(
            str(error.validator),
            error.validator_value,
            schema,
            error.instance,
            error.message,
            tuple(error.relative_schema_path),
        )


@dataclass(frozen=True)
class _Context:
    """What explaining an error may need besides the error: positions and the whole schema."""

    positions: Positions
    schema: dict[str, Any]


def schema_findings(data: object, positions: Positions, validator: Validator) -> list[Finding]:
    """Every schema error in `data` as findings, without repeats."""
    context = _Context(positions, dict(validator.schema) if isinstance(validator.schema, Mapping) else {})
    errors = [(tuple(error.absolute_path), _Error.of(error)) for error in validator.iter_errors(data)]  # type: ignore[arg-type]
    # A value of the wrong type fails its other keywords too; the type is the one worth saying.
    mistyped = {path for path, error in errors if error.validator == "type"}
    findings: list[Finding] = []
    for path, error in errors:
        if error.validator == "type" or path not in mistyped:
            findings.extend(_explain(error, path, context))
    return list(dict.fromkeys(findings))


def _explain(error: _Error, path: DataPath, context: _Context) -> Iterable[Finding]:
    if "propertyNames" in error.relative_schema_path:
        key = str(error.instance)
        return [Finding(path, _pattern_message(error, context.schema), where=(*path, key), at_key=True)]
    explain = _EXPLAINERS.get(error.validator)
    if explain is None:
        return [Finding(path, error.message)]
    return explain(error, path, context)


def _type(error: _Error, path: DataPath, context: _Context) -> list[Finding]:
    expected = _expected(error, context.schema)
    reading = unquoted_reading(context.positions.value_node(path), error.instance)
    if reading and "string" in _as_list(error.validator_value):
        return [Finding(path, f"expected {expected}, but {reading}")]
    return [Finding(path, f"expected {expected}, got {describe_value(error.instance)}")]


def _expected(error: _Error, root: dict[str, Any]) -> str:
    definition = _definition(error.schema, root)
    if definition in ("duration", "size"):
        return f"a {definition} ({error.schema['description']})"
    names = dict(_TYPE_NAMES)
    return " or ".join(names[name] for name in _as_list(error.validator_value))


def _required(error: _Error, path: DataPath, context: _Context) -> list[Finding]:
    missing = [name for name in error.validator_value if name not in error.instance]
    return [Finding(path, f"missing required key {name!r}", at_key=True) for name in missing]


def _unknown_keys(error: _Error, path: DataPath, context: _Context) -> list[Finding]:
    known = list(error.schema.get("properties", {}))
    unknown = [key for key in error.instance if key not in known]
    return [Finding(path, _unknown_key_message(key, known), where=(*path, key), at_key=True) for key in unknown]


def _unknown_key_message(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def _one_of(error: _Error, path: DataPath, context: _Context) -> list[Finding]:
    choices = [branch.get("required", [None])[0] for branch in error.validator_value]
    if None in choices:
        return [Finding(path, error.message)]
    given = [name for name in choices if name in error.instance]
    either = " or ".join(repr(name) for name in choices)
    if not given:
        return [Finding(path, f"needs {either}", at_key=True)]
    both = " and ".join(repr(name) for name in given)
    return [Finding(path, f"has {both}; give only one", where=(*path, given[-1]), at_key=True)]


def _bound(error: _Error, path: DataPath, context: _Context) -> list[Finding]:
    words = dict(_BOUND_WORDS)[error.validator]
    return [Finding(path, f"{show_value(error.instance)} {words} {_show_bound(error)}")]


def _show_bound(error: _Error) -> str:
    kind = unit_kind(error.schema)
    if kind == "duration":
        return show_duration(error.validator_value)
    if kind == "size":
        return show_size(error.validator_value)
    return show_value(error.validator_value)


def _pattern(error: _Error, path: DataPath, context: _Context) -> list[Finding]:
    return [Finding(path, _pattern_message(error, context.schema))]


def _pattern_message(error: _Error, root: dict[str, Any]) -> str:
    if _definition(error.schema, root) is None:
        return f"{show_value(error.instance)} does not match {error.validator_value!r}"
    title, description = error.schema["title"].lower(), error.schema["description"]
    return f"{show_value(error.instance)} is not a valid {title} ({description})"


def _length(error: _Error, path: DataPath, context: _Context) -> list[Finding]:
    if error.validator == "minLength":
        return [Finding(path, "must not be empty" if error.validator_value == 1 else error.message)]
    return [Finding(path, f"is longer than {error.validator_value} characters")]


def _choice(error: _Error, path: DataPath, context: _Context) -> list[Finding]:
    value = show_value(error.instance)
    if error.validator == "const":
        return [Finding(path, f"{value} is not supported; expected {show_value(error.validator_value)}")]
    allowed = ", ".join(show_value(choice) for choice in error.validator_value)
    return [Finding(path, f"{value} is not one of {allowed}")]


def _count(error: _Error, path: DataPath, context: _Context) -> list[Finding]:
    limit, count = error.validator_value, len(error.instance)
    if error.validator == "minItems":
        return [Finding(path, f"has {count} entries; at least {limit} needed")]
    return [Finding(path, f"has {count} entries; at most {limit} allowed")]


def _definition(fragment: dict[str, Any], root: dict[str, Any]) -> str | None:
    """The name under `$defs` of the schema fragment an error came from, if it is one."""
    return next((name for name, schema in root.get("$defs", {}).items() if schema is fragment), None)


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else [value]


_Explainer = Callable[[_Error, DataPath, _Context], Iterable[Finding]]
_EXPLAINERS: Mapping[str, _Explainer] = MappingProxyType(
    {
        "type": _type,
        "required": _required,
        "additionalProperties": _unknown_keys,
        "oneOf": _one_of,
        "minimum": _bound,
        "maximum": _bound,
        "exclusiveMinimum": _bound,
        "exclusiveMaximum": _bound,
        "pattern": _pattern,
        "minLength": _length,
        "maxLength": _length,
        "enum": _choice,
        "const": _choice,
        "minItems": _count,
        "maxItems": _count,
        "maxProperties": _count,
    }
)
