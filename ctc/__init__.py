"""ctc: a compiler toolkit for training parallel PyTorch models.

``import ctc`` loads no torch; ``ctc.capture`` imports it when first used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["capture"]


def __getattr__(name: str) -> Any:
    if name == "capture":
        from ctc.api import capture

        return capture
    raise AttributeError(f"module 'ctc' has no attribute {name!r}")
