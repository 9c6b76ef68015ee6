"""The device a pipeline is bound to, and how the default is found without importing torch."""

from __future__ import annotations

import glob
import os

from ctc.passes.base import DEVICES


def detect_device() -> str:
    """``cuda`` when this machine shows an NVIDIA GPU to this process, ``cpu`` otherwise.

    Looks at the driver's device files instead of asking torch, so that torch-free commands
    stay fast; ``CUDA_VISIBLE_DEVICES`` set to nothing (or -1) hides the GPUs, as it does for torch.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return "cpu"
    if glob.glob("/dev/nvidia[0-9]*") or glob.glob("/proc/driver/nvidia/gpus/*"):
        return "cuda"
    return "cpu"


def check_device(device: str) -> str:
    if device not in DEVICES:
        raise ValueError(f"unknown device '{device}' (known: {', '.join(DEVICES)})")
    return device
