"""A composed YAML node tree becomes plain data, refusing what PyYAML would accept silently."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import yaml
from yaml.constructor import SafeConstructor

from supervisor_app.config.positions import Positions, problem_at
from supervisor_app.config.problems import DataPath, Problem, render_path
from supervisor_app.config.wording import unquoted_reading

MAX_VALUES = 200_000  # values after alias expansion; a 2,000-venue fleet has about 60,000

_TAG = "tag:yaml.org,2002:"
_CONSTRUCTED_TAGS = frozenset(_TAG + name for name in ("null", "bool", "int", "float", "str"))
_COLLECTION_TAGS = frozenset((_TAG + "map", _TAG + "seq"))
_TIMESTAMP_TAG = _TAG + "timestamp"
_MERGE_TAG = _TAG + "merge"
# Integer spellings that YAML 1.1 (PyYAML) and YAML 1.2 (editors) read differently, or
# that hide a base: octal 010, binary 0b10, base-60 1:30. Decimal and 0x hex are plain.
_PLAIN_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+")


_Report = Callable[[yaml.Node, DataPath, str], None]


class DataTooLarge(Exception):
    """The node tree expands past a limit (deep nesting or aliases repeating large blocks)."""

    def __init__(self, reason: str, mark: yaml.Mark) -> None:
        super().__init__(reason)
        self.reason = reason
        self.mark = mark


@dataclass(frozen=True)
class BuiltData:
    """Plain data (dicts, lists, str, int, float, bool, None), its positions and its problems."""

    data: object
    positions: Positions
    problems: tuple[Problem, ...]
    flagged: frozenset[DataPath]  # values already reported: checks after loading skip them


def build_data(node: yaml.Node, file: str, *, max_depth: int) -> BuiltData:
    """Build plain data from `node`; raises DataTooLarge past `max_depth` or MAX_VALUES."""
    builder = _Builder(file, max_depth)
    data = builder.build(node, ())
    positions = Positions(builder.values, builder.keys)
    return BuiltData(data, positions, tuple(builder.problems), frozenset(builder.flagged))


@dataclass
class _Builder:
    """Walks the node tree once, collecting nodes and problems (mutable: it is the walk's state)."""

    file: str
    max_depth: int
    values: dict[DataPath, yaml.Node] = field(default_factory=dict)
    keys: dict[DataPath, yaml.Node] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    flagged: set[DataPath] = field(default_factory=set)
    budget: int = MAX_VALUES
    constructor: SafeConstructor = field(default_factory=SafeConstructor)

    def build(self, node: yaml.Node, path: DataPath) -> object:
        self._spend(node, path)
        self.values[path] = node
        if isinstance(node, yaml.CollectionNode) and node.tag not in _COLLECTION_TAGS:
            self._flag(node, path, f"unsupported tag {node.tag!r}")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode), f"a YAML node is a mapping, a sequence or a scalar, not {node!r}"
        return self._scalar(node, path, self._flag)

    def _spend(self, node: yaml.Node, path: DataPath) -> None:
        # Aliases make a small document expand without bound, even into a cycle.
        self.budget -= 1
        if self.budget < 0:
            reason = f"the document expands to more than {MAX_VALUES} values (aliases?)"
            raise DataTooLarge(reason, self._top_mark(node, path))
        if len(path) > self.max_depth:
            reason = f"nested deeper than {self.max_depth} levels (a recursive alias?)"
            raise DataTooLarge(reason, self._top_mark(node, path))

    def _top_mark(self, node: yaml.Node, path: DataPath) -> yaml.Mark:
        """The top-level key under which `path` lies: nodes below an alias stand where the anchor is."""
        key = self.keys.get(path[:1])
        return node.start_mark if key is None else key.start_mark

    def _mapping(self, node: yaml.MappingNode, path: DataPath) -> dict[str, object]:
        result: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            if key in result:
                first = self.keys[child].start_mark.line + 1
                self._report(key_node, child, f"duplicate key {key!r} (first at line {first})")
                continue
            self.keys[child] = key_node
            result[key] = self.build(value_node, child)
        return result

    def _key(self, node: yaml.Node, path: DataPath) -> str | None:
        if node.tag == _MERGE_TAG:
            self._report(node, path, "merge keys ('<<') are not supported; write the keys out")
            return None
        if not isinstance(node, yaml.ScalarNode):
            self._report(node, path, "a key must be a plain string, not a list or a mapping")
            return None
        key = self._scalar(node, path, self._report)
        if not isinstance(key, str):
            reading = unquoted_reading(node, key) or "keys must be strings"
            self._report(node, path, f"key {node.value!r} is not a string: {reading}")
            return None
        return key

    def _scalar(self, node: yaml.ScalarNode, path: DataPath, report: _Report) -> object:
        if node.tag == _TIMESTAMP_TAG:
            return node.value  # JSON has no dates; `2024-01-01` stays the text it looks like
        if node.tag not in _CONSTRUCTED_TAGS:
            report(node, path, f"unsupported tag {node.tag!r}")
            return node.value
        try:
            value = self.constructor.construct_object(node)
        except (ValueError, yaml.YAMLError):
            report(node, path, f"{node.value!r} cannot be read as {node.tag.removeprefix(_TAG)}")
            return node.value
        if isinstance(value, float) and not math.isfinite(value):
            report(node, path, f"{node.value} is not a finite number")
        elif node.style is None and _hides_a_base(node.value, value):
            report(node, path, f"YAML 1.1 reads {node.value} as {value}; write {value}, or quote it for text")
        return value

    def _flag(self, node: yaml.Node, path: DataPath, message: str) -> None:
        """Report a problem with a value; later checks stay silent about that value."""
        self.flagged.add(path)
        self._report(node, path, message)

    def _report(self, node: yaml.Node, path: DataPath, message: str) -> None:
        self.problems.append(problem_at(self.file, node.start_mark, render_path(path), message))


def _hides_a_base(text: str, value: object) -> bool:
    """True for number spellings whose value is not the decimal they look like (010, 0b1, 1:30)."""
    if isinstance(value, float):
        return ":" in text
    return isinstance(value, int) and not isinstance(value, bool) and not _PLAIN_INT.fullmatch(text)
