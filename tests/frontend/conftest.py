"""Fixtures for frontend tests: a fake process group and the tiny TP+FSDP step on it."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def tiny_mesh() -> Any:
    """A 2 x 2 (dp_shard, tp) device mesh over a fake process group of 4 ranks."""
    from torch.distributed.device_mesh import init_device_mesh

    from ctc.models.torchtitan import ensure_process_group

    ensure_process_group(4)
    return init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp_shard", "tp"))
