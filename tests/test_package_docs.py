"""The package docstrings that map the code: every module they name exists, and every module of
the package is named (a bullet ``- ``name``, ``other``: what it is (what it depends on)``)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCUMENTED_PACKAGES = ("ctc", "ctc.passes", "ctc.schedule")
_BULLET = re.compile(r"^- (.*?):", re.MULTILINE)


def named_modules(package: str) -> set[str]:
    doc = importlib.import_module(package).__doc__ or ""
    names: set[str] = set()
    for head in _BULLET.findall(doc):
        names.update(re.findall(r"``([A-Za-z_][A-Za-z0-9_]*)``", head))
    return names


def package_modules(package: str) -> set[str]:
    directory = ROOT.joinpath(*package.split("."))
    files = {path.stem for path in directory.glob("*.py") if path.stem != "__init__"}
    packages = {path.parent.name for path in directory.glob("*/__init__.py")}
    return files | packages


@pytest.mark.parametrize("package", DOCUMENTED_PACKAGES)
def test_every_named_module_exists(package: str) -> None:
    named = named_modules(package)
    assert named, f"{package}'s docstring names no module"
    assert sorted(named - package_modules(package)) == []


@pytest.mark.parametrize("package", DOCUMENTED_PACKAGES)
def test_every_module_is_named(package: str) -> None:
    assert sorted(package_modules(package) - named_modules(package)) == []
