"""The inductor and cudagraph passes: they mark, in the IR, what the backend compiles and how.

At the IR level both are torch-free rewrites, so ``ctc opt`` shows exactly what will be
compiled: ``inductor(regions)`` wraps each run of ops annotated ``compile_with_inductor`` in a
``ctc.region {kind = "inductor"}``; ``inductor(all)`` wraps the whole function in one;
``cudagraph`` wraps the whole function in a ``ctc.region {kind = "cudagraph"}``. The backend
(``ctc.backend``) compiles inductor regions with inductor and wraps cudagraph regions in CUDA
graphs when it builds the step.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from ctc.ir.core import Block, Func, Module, Op
from ctc.ir.ops import RegionOp, make_op
from ctc.passes.base import Pass
from ctc.passes.options import ChoiceOption, option
from ctc.passes.outline import outline_ops


def _wrap_body(func: Func, kind: str, name: str) -> Func:
    """``func`` with every op but the final ``ctc.return`` inside one region of ``kind``."""
    body, terminator = func.ops[:-1], func.ops[-1:]
    if not body or (len(body) == 1 and isinstance(body[0], RegionOp) and body[0].kind == kind):
        return func
    region = make_op(
        "ctc.region", attributes={"kind": kind, "name": name}, regions=[Block(tuple(body))]
    )
    return func.with_ops((region, *terminator))


def _map_functions(module: Module, rewrite: object) -> Module:
    assert callable(rewrite)
    return attrs.evolve(module, functions=tuple(rewrite(func) for func in module.functions))


@attrs.frozen
class InductorPass(Pass):
    """Marks what inductor compiles.

    Guarantees: with ``regions``, every maximal run of ops that share a ``compile_with_inductor``
    annotation (and phase) is wrapped in one ``ctc.region {kind = "inductor"}`` and no other op
    is; with ``all``, the whole function body but its ``ctc.return`` is one inductor region. Op
    order, names and values are unchanged.
    """

    name: ClassVar[str] = "inductor"
    stages: ClassVar[tuple[str, ...]] = ("fwd", "bwd")

    scope: str = option(
        ChoiceOption(("regions", "all")),
        doc="regions: annotated inductor regions only; all: the whole graph",
        positional=True,
    )

    def run(self, module: Module) -> Module:
        def rewrite(func: Func) -> Func:
            if self.scope == "all":
                return _wrap_body(func, "inductor", func.name)
            return func.with_ops(outline_ops(func.ops, "inductor"))

        return _map_functions(module, rewrite)


@attrs.frozen
class CudagraphPass(Pass):
    """Marks the function for CUDA graph capture and replay.

    Guarantees: the whole function body but its ``ctc.return`` is one
    ``ctc.region {kind = "cudagraph"}``; op order, names and values are unchanged. Needs a CUDA
    target: the pipeline is refused on the CPU before anything runs.
    """

    name: ClassVar[str] = "cudagraph"
    stages: ClassVar[tuple[str, ...]] = ("fwd", "bwd")
    must_be_last: ClassVar[bool] = True
    devices: ClassVar[tuple[str, ...]] = ("cuda",)

    def run(self, module: Module) -> Module:
        return _map_functions(module, lambda func: _wrap_body(func, "cudagraph", func.name))


def cudagraph_regions(ops: tuple[Op, ...]) -> list[RegionOp]:
    """The cudagraph regions among ``ops`` (top level), for the backend."""
    return [op for op in ops if isinstance(op, RegionOp) and op.kind == "cudagraph"]
