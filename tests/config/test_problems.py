"""Problems: how a path, a line and a problem list are written for people and tools."""

from __future__ import annotations

import json

import pytest

from supervisor_app.config.problems import (
    Problem,
    counted,
    problems_as_json,
    problems_as_text,
    render_path,
)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("version",), "version"),
        (("venues", 2, "compression", "level"), "venues[2].compression.level"),
        (("buses", "main"), "buses.main"),
        (("buses", "a b"), "buses['a b']"),
        (("buses", "x.y"), "buses['x.y']"),
    ],
)
def test_paths_render_like_an_operator_would_write_them(path: tuple[str | int, ...], text: str) -> None:
    assert render_path(path) == text


def test_a_problem_line_is_file_line_column_path_message() -> None:
    problem = Problem("fleet.yaml", 12, 14, "venues[2].compression.level", "30 is greater than the maximum of 22")
    assert str(problem) == "fleet.yaml:12:14: venues[2].compression.level: 30 is greater than the maximum of 22"


def test_a_problem_without_a_path_leaves_the_path_out() -> None:
    assert str(Problem("fleet.yaml", 1, 1, "", "the file is empty")) == "fleet.yaml:1:1: the file is empty"


def test_problems_sort_by_file_then_position() -> None:
    problems = [
        Problem("b", 1, 1, "", "x"),
        Problem("a", 10, 2, "", "x"),
        Problem("a", 9, 30, "", "x"),
        Problem("a", 10, 1, "", "x"),
    ]
    assert [(p.file, p.line, p.column) for p in sorted(problems)] == [
        ("a", 9, 30),
        ("a", 10, 1),
        ("a", 10, 2),
        ("b", 1, 1),
    ]


def test_json_and_text_carry_the_same_problems() -> None:
    problems = [Problem("f.yaml", 3, 5, "venues[0]", "unknown key 'x'"), Problem("f.yaml", 4, 1, "", "y")]
    records = json.loads(problems_as_json(problems))
    assert records == [
        {"file": "f.yaml", "line": 3, "column": 5, "path": "venues[0]", "message": "unknown key 'x'"},
        {"file": "f.yaml", "line": 4, "column": 1, "path": "", "message": "y"},
    ]
    assert problems_as_text(problems).splitlines() == [str(p) for p in problems]


@pytest.mark.parametrize(("count", "text"), [(0, "0 problems"), (1, "1 problem"), (2, "2 problems")])
def test_counts_read_as_english(count: int, text: str) -> None:
    assert counted(count, "problem") == text
