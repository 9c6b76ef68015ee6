"""Shared pytest configuration. Keep it small: options and fixtures every test directory uses."""

from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite the expected files of golden tests (tests/golden) from the actual output",
    )


@pytest.fixture(scope="session")
def tiny_mesh() -> Any:
    """A 2 x 2 (dp_shard, tp) device mesh over a fake process group of 4 ranks (tests that need
    another world size run in a process of their own)."""
    from torch.distributed.device_mesh import init_device_mesh

    from ctc.models.torchtitan import ensure_process_group

    ensure_process_group(4)
    return init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp_shard", "tp"))
