"""Compiling the outlined inductor regions of a lowered function with inductor.

Lowering (``ctc.lowering.to_fx``, ``outline={"inductor"}``) turns every
``ctc.region {kind = "inductor"}`` into a submodule called with the values it reads. This module
compiles each with ``torch._inductor.standalone_compile`` (the tool torch's own
``regional_inductor`` calls) under the region's ``inductor_configs`` and swaps the submodule for a
``CompiledRegion``, which counts its calls so a test can see what ran compiled.

When inductor cannot compile a region that holds higher-order ops (on the CPU, torch 2.13 fails on
FlexAttention's backward), the fallback unit is the higher-order op alone: the region is split
around each such op in the IR (``split_around``), the op that inductor refuses runs eagerly, and
the rest of the region is compiled. Identical ops (same name, operand types and sub-graphs) are
tried once. A region without higher-order ops that fails is an error naming the region.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import torch
import torch.fx as fx

from ctc.errors import CtcError
from ctc.ir.core import Block, Func, Op, walk_ops
from ctc.ir.ops import RegionOp
from ctc.lowering.to_fx import OutlinedRegion


class CompiledRegion(torch.nn.Module):
    """An inductor-compiled region in place of its submodule; ``calls`` counts its runs."""

    def __init__(self, region: OutlinedRegion, ordinal: int, compiled: Any) -> None:
        super().__init__()
        self.region = region
        self.ordinal = ordinal
        self.compiled = compiled
        self.calls = 0

    def forward(self, *args: Any) -> Any:
        self.calls += 1
        return self.compiled(*args)


@attrs.frozen
class Fallback:
    """A higher-order op that runs eagerly because inductor could not compile it."""

    op_name: str
    result: str
    region: str
    reason: str

    def describe(self, function: str) -> str:
        return f"{self.op_name} %{self.result} (region '{self.region}' of @{function})"


@attrs.frozen
class RegionFailure:
    """Inductor failed on one region: the region op and the error."""

    region: RegionOp
    error: BaseException

    @property
    def reason(self) -> str:
        """The innermost error's type and first line (inductor wraps what failed)."""
        error = self.error
        if isinstance(error, KnownFailure):
            return str(error)
        while error.__cause__ is not None:
            error = error.__cause__
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        first = lines[0] if lines else ""
        return f"{type(error).__name__}: {first[:200]}"


@contextlib.contextmanager
def _inductor_settings(configs: dict[str, Any]) -> Iterator[None]:
    """The region's configs, eager-like division rounding, and no rematerialisation inside a
    region (the joint was partitioned already)."""
    import torch._functorch.config as functorch_config
    import torch._inductor.config as inductor_config

    settings = dict(configs)
    for key in configs:
        if not hasattr(inductor_config, key.split(".")[0]):
            raise CtcError(f"unknown inductor config '{key}' in a region's inductor_configs")
    if hasattr(inductor_config, "eager_numerics"):
        settings.setdefault("eager_numerics.division_rounding", True)
    functorch: dict[str, Any] = {}
    if hasattr(functorch_config, "remat_using_tags_for_fwd_loss_bwd_graph"):
        functorch["remat_using_tags_for_fwd_loss_bwd_graph"] = False
    with inductor_config.patch(settings), functorch_config.patch(functorch):
        yield


def compile_submodule(submodule: fx.GraphModule, inputs: Sequence[Any]) -> Any:
    """``standalone_compile`` of one outlined region, given fake example inputs."""
    from torch._inductor import standalone_compile

    region: OutlinedRegion = submodule.meta["ctc_region"]
    configs = dict(region.attributes.get("inductor_configs") or {})
    with _inductor_settings(configs):
        return standalone_compile(
            submodule, list(inputs), dynamic_shapes="from_tracing_context", aot=True
        )


class KnownFailure(Exception):
    """A region not compiled because one like it already failed (``doomed``)."""


def compile_regions(
    module: fx.GraphModule,
    cache: dict[RegionOp, Any],
    doomed: Callable[[RegionOp], str | None] = lambda region: None,
    on_failure: Callable[[RegionFailure], None] = lambda failure: None,
) -> tuple[list[CompiledRegion], list[RegionFailure]]:
    """Compiles every outlined inductor region of ``module`` in place (its nodes must carry fake
    values), reusing ``cache`` (region op -> compiled artifact) and adding to it. A region
    ``doomed`` gives a reason for is not tried (a ``KnownFailure`` with that reason); every
    failure is reported to ``on_failure`` as it happens, so later regions can be doomed by it.
    Returns the compiled regions in graph order and the regions that failed (left as
    submodules)."""
    compiled = []
    failures = []
    for node in list(module.graph.find_nodes(op="call_module")):
        submodule = getattr(module, str(node.target))
        region = getattr(submodule, "meta", {}).get("ctc_region")
        if not isinstance(region, OutlinedRegion) or region.kind != "inductor":
            continue
        artifact = cache.get(region.source)
        if artifact is None:
            inputs = [argument.meta["val"] for argument in node.all_input_nodes]
            reason = doomed(region.source)
            try:
                if reason is not None:
                    raise KnownFailure(reason)
                artifact = compile_submodule(submodule, inputs)
            except CtcError:
                raise
            except Exception as error:  # inductor raises anything; the caller sorts it out
                failure = RegionFailure(region.source, error)
                failures.append(failure)
                on_failure(failure)
                continue
            cache[region.source] = artifact
        wrapper = CompiledRegion(region, int(region.attributes["ctc_ordinal"]), artifact)
        setattr(module, str(node.target), wrapper)
        compiled.append(wrapper)
    return compiled, failures


def higher_order_ops(region: RegionOp) -> list[Op]:
    return [op for op in walk_ops(region.body.ops) if op.name.startswith("higher_order.")]


def number_regions(func: Func) -> Func:
    """Inductor regions get ``ctc_ordinal`` (their position among the function's inductor
    regions), so the pieces of a split region are known as one."""
    count = 0

    def visit(ops: tuple[Op, ...]) -> tuple[Op, ...]:
        nonlocal count
        result = []
        for op in ops:
            if isinstance(op, RegionOp):
                attributes = op.attributes
                if op.kind == "inductor":
                    attributes = attributes.with_entry("ctc_ordinal", count)
                    count += 1
                body = Block(visit(op.body.ops), op.body.args)
                op = op.replace(attributes=attributes, regions=(body,))
            result.append(op)
        return tuple(result)

    return func.with_ops(visit(func.ops))


def split_around(func: Func, isolate: set[str], eager: set[str]) -> Func:
    """``func`` with each op named (by first result) in ``eager`` outside any inductor region and
    each other one in ``isolate`` in an inductor region of its own (``eager`` wins); the region
    around such an op splits into the parts before and after it, all with its attributes."""

    def visit(ops: tuple[Op, ...]) -> tuple[Op, ...]:
        result: list[Op] = []
        for op in ops:
            if not isinstance(op, RegionOp):
                result.append(op)
                continue
            body = visit(op.body.ops)
            if op.kind != "inductor":
                result.append(op.replace(regions=(Block(body, op.body.args),)))
                continue
            part: list[Op] = []
            for inner in body:
                name = inner.results[0].name if inner.results else None
                if name not in isolate and name not in eager:
                    part.append(inner)
                    continue
                if part:
                    result.append(op.replace(regions=(Block(tuple(part)),)))
                    part = []
                alone = name not in eager and len(body) > 1
                result.append(op.replace(regions=(Block((inner,)),)) if alone else inner)
            if part:
                result.append(op.replace(regions=(Block(tuple(part)),)))
        return tuple(result)

    return func.with_ops(visit(func.ops))


def op_signature(op: Op) -> tuple[object, ...]:
    """What makes two higher-order ops compile alike: name, operand types, attributes and the
    ops of their sub-graphs."""
    types = tuple(str(value.type) for value in op.operand_values())
    inner = tuple(o.name for region in op.regions for o in walk_ops(region.ops))
    return (op.name, types, op.attributes, inner)
