"""Strict YAML loading: data, positions, and the traps PyYAML accepts silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor_app.config.loading import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    LoadedYaml,
    load_yaml,
)


def load(tmp_path: Path, text: str | bytes) -> LoadedYaml:
    path = tmp_path / "fleet.yaml"
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return load_yaml(path, "fleet.yaml")


def messages(loaded: LoadedYaml) -> list[str]:
    return [str(problem) for problem in loaded.problems]


def test_plain_document_loads_with_positions_of_values_and_keys(tmp_path: Path) -> None:
    loaded = load(tmp_path, "version: 1\nvenues:\n  - name: okx\n    queue: 'q'\n")
    assert loaded.data == {"version": 1, "venues": [{"name": "okx", "queue": "q"}]}
    assert loaded.problems == ()
    value = loaded.positions.mark(("venues", 0, "queue"))
    key = loaded.positions.mark(("venues", 0, "queue"), at_key=True)
    assert (value.line, value.column) == (3, 11)
    assert (key.line, key.column) == (3, 4)


def test_unknown_path_falls_back_to_the_nearest_ancestor(tmp_path: Path) -> None:
    loaded = load(tmp_path, "a:\n  b: 1\n")
    mark = loaded.positions.mark(("a", "missing", 3))
    assert (mark.line, mark.column) == (1, 2)


def test_duplicate_key_is_reported_at_the_second_and_the_first_value_kept(tmp_path: Path) -> None:
    loaded = load(tmp_path, "a: 1\nb: 2\na: 3\n")
    assert loaded.data == {"a": 1, "b": 2}
    assert messages(loaded) == ["fleet.yaml:3:1: a: duplicate key 'a' (first at line 1)"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "on: 1\n",
            "fleet.yaml:1:1: key 'on' is not a string: YAML reads unquoted on as the boolean true; quote it: 'on'",
        ),
        ("1: x\n", "fleet.yaml:1:1: key '1' is not a string: YAML reads unquoted 1 as the number 1; quote it: '1'"),
        ("~: x\n", "fleet.yaml:1:1: key '~' is not a string: YAML reads unquoted ~ as null; quote it: '~'"),
        ("? [a]\n: x\n", "fleet.yaml:1:3: a key must be a plain string, not a list or a mapping"),
    ],
)
def test_non_string_keys_are_refused(tmp_path: Path, text: str, message: str) -> None:
    loaded = load(tmp_path, text)
    assert messages(loaded) == [message]
    assert loaded.data == {}


def test_yaml_11_booleans_load_as_booleans_and_quoted_ones_as_text(tmp_path: Path) -> None:
    loaded = load(tmp_path, "a: no\nb: 'no'\nc: On\n")
    assert loaded.data == {"a": False, "b": "no", "c": True}
    assert loaded.problems == ()  # the schema says where a string was expected


def test_small_aliases_are_allowed(tmp_path: Path) -> None:
    loaded = load(tmp_path, "a: &c {level: 3}\nb: *c\n")
    assert loaded.data == {"a": {"level": 3}, "b": {"level": 3}}
    assert loaded.problems == ()


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    loaded = load(tmp_path, "\n".join(lines) + "\n")
    assert not loaded.usable
    assert [p.message for p in loaded.problems] == ["the document expands to more than 200000 values (aliases?)"]


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    loaded = load(tmp_path, "x: &a [*a]\n")
    assert not loaded.usable
    assert messages(loaded) == [f"fleet.yaml:1:1: nested deeper than {MAX_DEPTH} levels (a recursive alias?)"]


def test_deep_nesting_is_refused_before_python_recursion_fails(tmp_path: Path) -> None:
    loaded = load(tmp_path, "x: " + "[" * 5000 + "]" * 5000 + "\n")
    assert not loaded.usable
    assert [p.message for p in loaded.problems] == [f"nested deeper than {MAX_DEPTH} levels"]


def test_oversized_file_is_refused_without_parsing(tmp_path: Path) -> None:
    loaded = load(tmp_path, "# " + "x" * MAX_FILE_BYTES + "\n")
    assert messages(loaded) == ["fleet.yaml:1:1: the file is larger than 1024 KiB"]


def test_not_utf8_is_reported_where_the_bad_byte_is(tmp_path: Path) -> None:
    loaded = load(tmp_path, b"a: 1\nname: caf\xe9\n")
    assert messages(loaded) == ["fleet.yaml:2:10: not UTF-8 text"]


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    loaded = load(tmp_path, "\ufeffa: 1\n".encode())
    assert loaded.data == {"a": 1}


def test_control_characters_are_reported_where_they_are(tmp_path: Path) -> None:
    loaded = load(tmp_path, "a: 1\nb: x\x07y\n")
    assert not loaded.usable
    assert messages(loaded)[0].startswith("fleet.yaml:2:5: not valid YAML: ")


def test_syntax_error_names_the_position(tmp_path: Path) -> None:
    loaded = load(tmp_path, "a: [1, 2\nb: 3\n")
    assert not loaded.usable
    assert len(loaded.problems) == 1 and loaded.problems[0].message.startswith("not valid YAML: ")
    assert loaded.problems[0].line == 2


def test_unreadable_path_is_one_problem(tmp_path: Path) -> None:
    loaded = load_yaml(tmp_path)  # a directory
    assert [(p.file, p.line, p.column) for p in loaded.problems] == [(str(tmp_path), 1, 1)]
    assert loaded.problems[0].message.startswith("cannot read the file: ")


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_documents_are_refused(tmp_path: Path, text: str) -> None:
    loaded = load(tmp_path, text)
    assert not loaded.usable
    assert messages(loaded) == ["fleet.yaml:1:1: the file is empty; expected a fleet declaration"]


def test_a_document_that_is_null_is_usable_data(tmp_path: Path) -> None:
    loaded = load(tmp_path, "~\n")
    assert loaded.usable and loaded.data is None and loaded.problems == ()


def test_merge_keys_are_refused(tmp_path: Path) -> None:
    loaded = load(tmp_path, "base: &b {a: 1}\nc:\n  <<: *b\n  d: 2\n")
    assert loaded.data == {"base": {"a": 1}, "c": {"d": 2}}
    assert messages(loaded) == ["fleet.yaml:3:3: c: merge keys ('<<') are not supported; write the keys out"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!binary aGk=\n", "fleet.yaml:1:4: a: unsupported tag 'tag:yaml.org,2002:binary'"),
        ("a: !!set {x}\n", "fleet.yaml:1:4: a: unsupported tag 'tag:yaml.org,2002:set'"),
        ("a: !!python/tuple [1]\n", "fleet.yaml:1:4: a: unsupported tag 'tag:yaml.org,2002:python/tuple'"),
        ("a: !local x\n", "fleet.yaml:1:4: a: unsupported tag '!local'"),
        ("a: !!int x\n", "fleet.yaml:1:4: a: 'x' cannot be read as int"),
    ],
)
def test_tags_beyond_json_types_are_refused_and_flagged(tmp_path: Path, text: str, message: str) -> None:
    loaded = load(tmp_path, text)
    assert messages(loaded) == [message]
    assert loaded.flagged == {("a",)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 010\n", "YAML 1.1 reads 010 as 8; write 8, or quote it for text"),
        ("a: 0b11\n", "YAML 1.1 reads 0b11 as 3; write 3, or quote it for text"),
        ("a: 1:30\n", "YAML 1.1 reads 1:30 as 90; write 90, or quote it for text"),
        ("a: .nan\n", ".nan is not a finite number"),
        ("a: -.inf\n", "-.inf is not a finite number"),
    ],
)
def test_numbers_that_are_not_what_they_look_like_are_refused(tmp_path: Path, text: str, message: str) -> None:
    loaded = load(tmp_path, text)
    assert [p.message for p in loaded.problems] == [message]


def test_plain_numbers_and_dates_load_as_they_read(tmp_path: Path) -> None:
    loaded = load(tmp_path, "a: 0\nb: -12\nc: 0x1f\nd: 1_048_576\ne: 0.5\nf: 2024-01-01\ng: '010'\n")
    assert loaded.data == {"a": 0, "b": -12, "c": 31, "d": 1048576, "e": 0.5, "f": "2024-01-01", "g": "010"}
    assert loaded.problems == ()
