"""Gap: torch 2.13's ``flex_attention`` refuses inputs that require grad on the CPU
(``_validate_device``: "FlexAttention does not support backward on CPU"), although the eager
backward is correct there (float64 gradient error 5e-15) and capture under fake tensors (which
are CPU tensors here) needs nothing more. The check also fires for every joint capture on the
CPU.

``apply()`` replaces the check with one that lets CPU tensors through and keeps every other
device's checks.
"""

from __future__ import annotations

from typing import Any

_ORIGINAL: dict[str, Any] = {}


def _validate_device_allowing_cpu_backward(query: Any, key: Any, value: Any) -> None:
    if query.device.type == "cpu":
        return
    _ORIGINAL["check"](query, key, value)


def apply() -> None:
    import torch.nn.attention.flex_attention as flex

    if "check" in _ORIGINAL:
        return
    _ORIGINAL["check"] = flex._validate_device
    flex._validate_device = _validate_device_allowing_cpu_backward
