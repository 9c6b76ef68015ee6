"""ctc: a compiler toolkit for training parallel PyTorch models.

``import ctc`` loads no torch; ``ctc.capture`` and ``ctc.compile`` import it when first used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["capture", "compile"]


def __getattr__(name: str) -> Any:
    if name == "capture":
        from ctc.api import capture

        return capture
    if name == "compile":
        from ctc.api import compile

        return compile
    raise AttributeError(f"module 'ctc' has no attribute {name!r}")
