"""Read an archive metadata file strictly: bounded size, JSON, then the schema; every failure names the file."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from jsonschema.protocols import Validator

from supervisor_app.errors import CorruptArchiveError

SCHEMA_RESOURCE = "metadata.schema.json"
MAX_SIDECAR_BYTES = 1024 * 1024
MAX_META_BYTES = 256 * 1024 * 1024  # a v1 meta.json holds every entry inline
_MESSAGE_CHARS = 200


def read_json(path: Path, max_bytes: int) -> Any | None:
    """The parsed JSON in `path`, or None when there is no such file."""
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
    except FileNotFoundError:
        return None
    if len(data) > max_bytes:
        raise CorruptArchiveError(f"{path}: larger than {max_bytes} bytes, more than any metadata file we write")
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        # RecursionError: hostile nesting; ValueError covers bad UTF-8, bad JSON and over-long integers.
        raise CorruptArchiveError(f"{path}: not valid JSON: {shorten(str(exc) or type(exc).__name__)}") from exc


def check_document(document: Any, definition: str, path: Path) -> None:
    """Raise CorruptArchiveError naming the file and the field unless `document` matches `#/$defs/<definition>`."""
    try:
        error = best_match(_validator(definition).iter_errors(document))
    except RecursionError as exc:
        raise CorruptArchiveError(f"{path}: nested too deeply") from exc
    if error is not None:
        raise corrupt(path, _field_path(error), shorten(error.message))


def corrupt(path: Path, field: str, message: str) -> CorruptArchiveError:
    """The error for one bad field of one metadata file."""
    return CorruptArchiveError(f"{path}: {field}: {message}" if field else f"{path}: {message}")


def _field_path(error: ValidationError) -> str:
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def shorten(text: str) -> str:
    """`text`, cut to a length fit for an error message (a damaged file may hold megabytes in one field)."""
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "..."


def _is_integer(checker: Any, instance: Any) -> bool:
    # JSON Schema counts 5.0 as an integer; our files never hold one, so neither may a reader accept it.
    return isinstance(instance, int) and not isinstance(instance, bool)


@functools.cache
def _validator(definition: str) -> Validator:
    schema = json.loads(resources.files("supervisor_app.archive").joinpath(SCHEMA_RESOURCE).read_text("utf-8"))
    strict = validators.extend(
        Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
    )
    return strict({"$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"})
