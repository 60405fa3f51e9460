"""What a check found wrong in a config file, and how it is shown to a person or a tool."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

PathPart = str | int
DataPath = tuple[PathPart, ...]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True, order=True)
class Problem:
    """One problem at one place of one file; ordering sorts by file, then position."""

    file: str
    line: int  # 1-based
    column: int  # 1-based
    path: str  # e.g. "venues[2].compression.level"; "" for the document or the file itself
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"

    def as_dict(self) -> dict[str, str | int]:
        return asdict(self)


@dataclass(frozen=True)
class Finding:
    """A problem before it has a position: the checks know data paths, not lines."""

    path: DataPath  # the path shown in the message
    message: str
    where: DataPath | None = None  # the path whose node it points at, when not `path`
    at_key: bool = False  # point at the key of `where` rather than its value
    see_also: DataPath | None = None  # another place the message is about: its line is added to the message

    @property
    def target(self) -> DataPath:
        return self.path if self.where is None else self.where


def render_path(path: DataPath) -> str:
    """`("venues", 2, "name")` -> `venues[2].name`; odd keys are quoted."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def problems_as_json(problems: Iterable[Problem]) -> str:
    """The problems as a JSON array of objects, for other tools."""
    return json.dumps([p.as_dict() for p in problems], indent=2)


def counted(count: int, noun: str) -> str:
    """`counted(2, "problem")` -> `2 problems`."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def problems_as_text(problems: Iterable[Problem]) -> str:
    """One line per problem, in the order given."""
    return "\n".join(str(p) for p in problems)
