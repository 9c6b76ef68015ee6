"""Gap: torchtitan 0.3.0 sets ``torchtitan.tools.utils.device_type`` to "cuda" on a machine
without an accelerator (``_get_available_device_type() or "cuda"``), and its modules copy the name
at import: ``ParallelDims.build_mesh`` then asks for a CUDA device mesh, and the trainer calls
``torch.cuda`` functions (``set_device``, memory statistics) that fail on the CPU.

``apply()`` points those module-level copies at "cpu" and at ``CpuDeviceModule``, the part of
``torch.cuda``'s interface the capture path and the trainer call, answered for the CPU (memory
statistics are this process's peak resident set); it does nothing where an accelerator exists.
"""

from __future__ import annotations

import importlib
import os
import platform
import resource
from typing import Any

import attrs

# Modules that copy ``device_type`` (and some ``device_module``) from torchtitan.tools.utils.
MODULES = (
    "torchtitan.tools.utils",
    "torchtitan.distributed.parallel_dims",
    "torchtitan.distributed.utils",
    "torchtitan.models.common.token_dispatcher",
    "torchtitan.components.metrics",
    "torchtitan.components.validate",
    "torchtitan.tools.profiler",
)


@attrs.frozen
class CpuProperties:
    name: str
    total_memory: int


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class CpuDeviceModule:
    """The part of ``torch.cuda`` that torchtitan's capture path and trainer call."""

    @staticmethod
    def current_device() -> int:
        return 0

    @staticmethod
    def device_count() -> int:
        return 1

    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def set_device(device: Any) -> None:
        return None

    @staticmethod
    def synchronize(device: Any = None) -> None:
        return None

    @staticmethod
    def empty_cache() -> None:
        return None

    @staticmethod
    def reset_peak_memory_stats(device: Any = None) -> None:
        return None  # the peak resident set cannot be reset; it only grows

    @staticmethod
    def get_device_name(device: Any = None) -> str:
        return platform.processor() or platform.machine() or "cpu"

    @staticmethod
    def get_device_properties(device: Any = None) -> CpuProperties:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return CpuProperties(CpuDeviceModule.get_device_name(), total)

    @staticmethod
    def memory_stats(device: Any = None) -> dict[str, int]:
        peak = _peak_rss_bytes()
        return {"active_bytes.all.peak": peak, "reserved_bytes.all.peak": peak}


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
