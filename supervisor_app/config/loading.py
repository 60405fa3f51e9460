"""Strict YAML loading: a file becomes plain data plus the position of every value.

PyYAML's safe loading still accepts documents that do not say what they seem to
say (duplicate keys, `no` as a boolean, alias bombs); this module reads the node
tree itself so that each of those becomes a problem with a line and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from supervisor_app.config.positions import Positions, problem_at
from supervisor_app.config.problems import DataPath, Problem
from supervisor_app.config.yaml_data import DataTooLarge, build_data

MAX_FILE_BYTES = 1024 * 1024  # a 2,000-venue fleet is a few hundred KiB
MAX_DEPTH = 32  # the schema nests 4 levels; anything deeper is a mistake or an attack


@dataclass(frozen=True)
class LoadedYaml:
    """The data of one YAML file, where each value stands, and what was wrong with it."""

    file: str
    data: object
    positions: Positions
    problems: tuple[Problem, ...]
    usable: bool = True  # False when nothing could be read (unreadable, not YAML, empty)
    flagged: frozenset[DataPath] = frozenset()  # values already reported: later checks skip them


class _NestedTooDeep(yaml.MarkedYAMLError):
    """Raised while composing a document nested deeper than MAX_DEPTH."""


class _DepthLimitedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer refuses deep nesting before Python's recursion limit does."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                message = f"nested deeper than {MAX_DEPTH} levels"
                raise _NestedTooDeep(problem=message, problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Unusable(Exception):
    """Nothing usable can be read from the file; carries the one problem saying why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def load_yaml(path: Path, file: str | None = None) -> LoadedYaml:
    """Read `path` strictly; `file` is the name used in problems (default: the path as given)."""
    name = str(path) if file is None else file
    try:
        node = _compose(_read_text(path, name), name)
        return _build(node, name)
    except _Unusable as unusable:
        return LoadedYaml(name, None, Positions({}, {}), (unusable.problem,), usable=False)


def _read_text(path: Path, file: str) -> str:
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise _Unusable(Problem(file, 1, 1, "", f"cannot read the file: {error.strerror or error}")) from error
    if len(raw) > MAX_FILE_BYTES:
        raise _Unusable(Problem(file, 1, 1, "", f"the file is larger than {MAX_FILE_BYTES // 1024} KiB"))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line, column = _line_column(raw[: error.start].decode("utf-8", "replace"))
        raise _Unusable(Problem(file, line, column, "", "not UTF-8 text")) from error


def _compose(text: str, file: str) -> yaml.Node:
    """The document's node tree; raises _Unusable when there is none."""
    try:
        node = yaml.compose(text, Loader=_DepthLimitedLoader)
    except _NestedTooDeep as error:
        raise _Unusable(problem_at(file, error.problem_mark, "", str(error.problem))) from error
    except yaml.MarkedYAMLError as error:
        raise _Unusable(_syntax_problem(file, error)) from error
    except yaml.reader.ReaderError as error:
        line, column = _line_column(text[: error.position])
        raise _Unusable(Problem(file, line, column, "", f"not valid YAML: {error.reason}")) from error
    if node is None or _is_empty(node):
        raise _Unusable(Problem(file, 1, 1, "", "the file is empty; expected a fleet declaration"))
    return node


def _is_empty(node: yaml.Node | None) -> bool:
    """No document, or one with nothing after `---`."""
    if node is None:
        return True
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null" and not node.value


def _build(node: yaml.Node, file: str) -> LoadedYaml:
    try:
        built = build_data(node, file, max_depth=MAX_DEPTH)
    except DataTooLarge as error:
        raise _Unusable(problem_at(file, error.mark, "", error.reason)) from error
    return LoadedYaml(file, built.data, built.positions, built.problems, flagged=built.flagged)


def _syntax_problem(file: str, error: yaml.MarkedYAMLError) -> Problem:
    words = ", ".join(part for part in (error.context, error.problem) if part)
    return problem_at(file, error.problem_mark or error.context_mark, "", f"not valid YAML: {words}")


def _line_column(before: str) -> tuple[int, int]:
    """1-based line and column of the character just after `before`."""
    line = before.count("\n") + 1
    return line, len(before) - (before.rfind("\n") + 1) + 1
