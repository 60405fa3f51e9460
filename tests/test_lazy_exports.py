"""The packages that load their public names on first use: every name resolves, and nothing loads early."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

LAZY_PACKAGES = ("supervisor_app.archive", "supervisor_app.chronicle", "supervisor_app.config")


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_every_public_name_resolves_to_its_module(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(module._SOURCES)
    for name in module.__all__:
        value = getattr(module, name)
        assert value is getattr(importlib.import_module(f"{package}.{module._SOURCES[name]}"), name)


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_an_unknown_name_is_an_attribute_error(package: str) -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = importlib.import_module(package).nope


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_importing_the_package_loads_none_of_its_modules(package: str) -> None:
    probe = f"import sys, {package}; print(sorted(m for m in sys.modules if m.startswith('{package}.')))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
