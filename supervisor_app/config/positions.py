"""Where each value and key of a loaded YAML document stands, by data path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from supervisor_app.config.problems import DataPath, Finding, Problem, render_path


@dataclass(frozen=True)
class Positions:
    """The YAML nodes behind each data path: the value's node and, inside a mapping, the key's."""

    values: Mapping[DataPath, yaml.Node]
    keys: Mapping[DataPath, yaml.Node]

    def value_node(self, path: DataPath) -> yaml.Node | None:
        return self.values.get(path)

    def mark(self, path: DataPath, *, at_key: bool = False) -> yaml.Mark:
        """The mark of the key (if asked and there is one) or else the value; the nearest ancestor if unknown."""
        for depth in range(len(path), -1, -1):
            prefix = path[:depth]
            node = self.keys.get(prefix) if at_key and depth == len(path) else None
            node = node or self.values.get(prefix)
            if node is not None:
                return node.start_mark
        return yaml.Mark("<document>", 0, 0, 0, "", 0)

    def locate(self, finding: Finding, file: str) -> Problem:
        """The finding as a problem at the node it targets."""
        mark = self.mark(finding.target, at_key=finding.at_key)
        message = finding.message
        if finding.see_also is not None:
            message += f" (line {self.mark(finding.see_also).line + 1})"
        return problem_at(file, mark, render_path(finding.path), message)


def problem_at(file: str, mark: yaml.Mark | None, path: str, message: str) -> Problem:
    """A problem at a YAML mark (0-based) as a 1-based line and column; 1:1 without a mark."""
    if mark is None:
        return Problem(file, 1, 1, path, message)
    return Problem(file, mark.line + 1, mark.column + 1, path, message)
