"""Small config texts the fleet and CLI tests build on; line numbers in tests depend on them."""

from __future__ import annotations

from pathlib import Path

# Seven lines: one venue reading the queue directory `q` beside the file.
MINIMAL = """\
version: 1
archive_root: archive
supervisor:
  state_dir: state
venues:
  - name: okx
    queue: q
"""

# Seven lines, ending at `venues:`: one bus `main` at `bus`, venues to follow from line 8.
BUS_HEAD = """\
version: 1
archive_root: archive
buses:
  main: bus
supervisor:
  state_dir: state
venues:
"""


def write_config(directory: Path, text: str, name: str = "fleet.yaml") -> Path:
    """`text` written as `directory/name`, creating the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path
