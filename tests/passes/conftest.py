"""Fixtures for pass tests: the example modules under examples/."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc.ir import Module, parse_file

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def two_blocks() -> Module:
    return parse_file(EXAMPLES / "two_blocks.ctc")
