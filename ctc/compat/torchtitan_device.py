"""Gap: torchtitan 0.3.0 sets ``torchtitan.tools.utils.device_type`` to "cuda" on a machine
without an accelerator (``_get_available_device_type() or "cuda"``), and its modules copy the name
at import: ``ParallelDims.build_mesh`` then asks for a CUDA device mesh and fails on the CPU.

``apply()`` points those module-level copies at "cpu" (and a CPU ``device_module``) when torch
sees no accelerator; it does nothing where one exists.
"""

from __future__ import annotations

import importlib

# Modules that copy ``device_type`` (and some ``device_module``) from torchtitan.tools.utils.
MODULES = (
    "torchtitan.tools.utils",
    "torchtitan.distributed.parallel_dims",
    "torchtitan.distributed.utils",
    "torchtitan.models.common.token_dispatcher",
)


class CpuDeviceModule:
    """The part of ``torch.cuda`` that torchtitan's capture path calls."""

    @staticmethod
    def current_device() -> int:
        return 0

    @staticmethod
    def device_count() -> int:
        return 1


def needed() -> bool:
    from torch._utils import _get_available_device_type

    return _get_available_device_type() is None


def apply() -> None:
    if not needed():
        return
    for name in MODULES:
        module = importlib.import_module(name)
        module.device_type = "cpu"  # type: ignore[attr-defined]
        if hasattr(module, "device_module"):
            module.device_module = CpuDeviceModule  # type: ignore[attr-defined]
