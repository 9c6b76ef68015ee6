"""``cudagraph``: marks a function for CUDA graph capture and replay."""

from __future__ import annotations

from typing import ClassVar

import attrs

from ctc.ir.core import Module
from ctc.passes.base import Pass
from ctc.passes.wrap import wrap_body


@attrs.frozen
class CudagraphPass(Pass):
    """Marks the function for CUDA graph capture and replay.

    The backend (``ctc.backend_inductor``) captures the compiled function in a CUDA graph and
    replays it. Guarantees: the whole function body but its ``ctc.return`` is one
    ``ctc.region {kind = "cudagraph"}``; op order, names and values are unchanged. Needs a CUDA
    target: the pipeline is refused on the CPU before anything runs.
    """

    name: ClassVar[str] = "cudagraph"
    stages: ClassVar[tuple[str, ...]] = ("fwd", "bwd")
    must_be_last: ClassVar[bool] = True
    devices: ClassVar[tuple[str, ...]] = ("cuda",)

    def run(self, module: Module) -> Module:
        functions = tuple(wrap_body(func, "cudagraph", func.name) for func in module.functions)
        return attrs.evolve(module, functions=functions)
