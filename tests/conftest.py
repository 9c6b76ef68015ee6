"""Shared pytest configuration. Keep it small: options and fixtures every test directory uses."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite the expected files of golden tests (tests/golden) from the actual output",
    )
