"""Where the vendored reference fixtures live (see tests/data/README.md)."""

from __future__ import annotations

from pathlib import Path

REFERENCE_FIXTURES = Path(__file__).resolve().parent / "data" / "reference"
