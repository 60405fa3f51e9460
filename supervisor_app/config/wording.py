"""How values read from YAML are named in messages: short, YAML-flavoured, one line."""

from __future__ import annotations

import yaml

_MAX_SHOWN = 60


def show_value(value: object) -> str:
    """A value as an operator would write it: `'A'`, `30`, `true`, `null`, `a list`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return _shorten(repr(value))
    return _shorten(str(value))


def describe_value(value: object) -> str:
    """A value with its kind, for type mismatches: `the boolean false`, `the string 'x'`."""
    if isinstance(value, bool):
        return f"the boolean {show_value(value)}"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"the number {show_value(value)}"
    if isinstance(value, str):
        return f"the string {show_value(value)}"
    return show_value(value)


def unquoted_reading(node: yaml.Node | None, value: object) -> str | None:
    """Why an unquoted scalar is not the text it looks like, or None when it is text or quoted."""
    if not isinstance(node, yaml.ScalarNode) or node.style is not None or isinstance(value, str):
        return None
    text = node.value
    if not text:
        return "YAML reads an empty value as null; write '' for an empty string"
    return f"YAML reads unquoted {text} as {describe_value(value)}; quote it: '{text}'"


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
