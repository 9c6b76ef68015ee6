"""Gap: torchtitan 0.3.0's ``llama3_405b`` training config builds its float8 linear converter
when the config is made, and that converter refuses to exist without torchao and an SM89+ (or
MI300) GPU: ``ImportError: torchao is not installed``, or with torchao ``ValueError: ... float8
is only supported on NVIDIA SM89 or later`` (emulation only outside torch.compile). On a CPU the
training config, and with it the flavor's batch, sequence and checkpointing defaults, cannot be
read at all.

ctc captures the model with its own model spec, without converters (the bf16 step). ``call``
runs a training-config function with the converters left out of the model spec it builds, and
says which it left out, so that the capture can say it is not the float8 step.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any
from unittest import mock


def call(registry_module: str, config_name: str) -> tuple[Any, list[str]]:
    """``registry_module.config_name()``, and the names of the converters left out."""
    module = importlib.import_module(registry_module)
    original: Callable[..., Any] = module.model_registry
    left_out: list[str] = []

    def without_converters(*args: Any, **kwargs: Any) -> Any:
        for converter in kwargs.pop("converters", None) or ():
            left_out.append(type(converter).__qualname__.split(".")[0])
        return original(*args, **kwargs)

    with mock.patch.object(module, "model_registry", without_converters):
        config = getattr(module, config_name)()
    return config, left_out
