"""The backend: a captured step and its IR become a callable training step.

``compile_joint`` lowers ``@joint`` (from the IR alone) into the capture and runs
``aot_compile_joint_with_descriptors``. torch's partitioner splits the joint; its forward and
backward compilers are ``StageCompiler``s, which for each half:

1. lift the graph into ``@fwd`` / ``@bwd`` IR (``ctc.frontend_fx``);
2. run the pipeline's part for that stage (``ctc.passes.stages.StagedRun``: verification, dumps);
3. print the IR and parse it back: lowering sees only the text, as for the joint;
4. lower it with every ``ctc.region {kind = "inductor"}`` outlined into a submodule, propagate
   fake values and check them against the IR types;
5. compile each outlined region with inductor (``ctc.regions_inductor``); when inductor cannot
   compile a higher-order op, that op alone runs eagerly (one ``CtcWarning`` per stage lists
   them) and the rest of its region stays compiled. With several ranks, rank 0 compiles first
   and broadcasts what fell back; the others then hit inductor's cache for the same kernels.

The compiled step takes ``(*parameters, *buffers, *inputs)`` (parameters as
``named_parameters(remove_duplicate=False)`` lists them) and returns what the captured module
returned; ``backward()`` fills the parameters' gradients. ``StepReport`` says what each stage
compiled and what fell back.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import torch
import torch.fx as fx

from ctc import ranks
from ctc.errors import CtcError, CtcWarning
from ctc.ir.core import Func, Module, walk_ops
from ctc.ir.ops import RegionOp
from ctc.ir.parser import parse_module
from ctc.ir.printer import print_module
from ctc.ir.verifier import verify
from ctc.lowering.groups import create_stream_groups, streams_of
from ctc.lowering.joint import check_types, lower_into_joint, propagate_fake_values
from ctc.lowering.to_fx import StreamGroupNames, lower_function
from ctc.regions_inductor import (
    CompiledRegion,
    Fallback,
    RegionFailure,
    compile_regions,
    higher_order_ops,
    number_regions,
    op_signature,
    split_around,
)

if TYPE_CHECKING:
    from ctc.cudagraphs import CudaGraphSet
    from ctc.frontend_fx.export import Captured
    from ctc.frontend_fx.groups import MeshLayout
    from ctc.passes.stages import StagedRun


@attrs.define
class StepReport:
    """What compiling a step did, per stage (``fwd``, ``bwd``)."""

    modules: dict[str, Module] = attrs.field(factory=dict)
    regions: dict[str, list[CompiledRegion]] = attrs.field(factory=dict)
    fallbacks: dict[str, list[Fallback]] = attrs.field(factory=dict)
    # The step's CUDA graphs, when the cudagraph pass marked a stage (ctc.cudagraphs).
    cuda_graphs: CudaGraphSet | None = None

    def executed_regions(self, stage: str) -> set[tuple[str, int]]:
        """(name, ordinal) of the stage's inductor regions that ran compiled at least once."""
        return {(r.region.name, r.ordinal) for r in self.regions.get(stage, []) if r.calls}

    def describe(self) -> str:
        """Lines for a person: per compiled stage, its inductor regions (compiled, and run so
        far) and each higher-order op that runs eagerly, with inductor's reason; CUDA graphs."""
        lines = []
        for stage in ("fwd", "bwd"):
            if stage not in self.modules:
                continue
            regions, fallbacks = self.regions.get(stage, []), self.fallbacks.get(stage, [])
            lines.append(
                f"@{stage}: {len(regions)} inductor region(s) compiled, "
                f"{len(self.executed_regions(stage))} ran; {len(fallbacks)} op(s) run eagerly"
            )
            lines.extend(f"  {f.describe(stage)}: {f.reason}" for f in fallbacks)
        if self.cuda_graphs is not None:
            for stage, counts in self.cuda_graphs.counts().items():
                lines.append(f"@{stage} CUDA graph: {counts}")
        return "\n".join(lines)


@attrs.define
class _Context:
    layout: MeshLayout | None
    group_names: dict[tuple[str, ...], str]
    stream_groups: dict[Any, str]
    staged: StagedRun | None
    attributes: Any
    report: StepReport
    forward_graph: fx.GraphModule | None = None


def _stream_groups(module: Module, context: _Context) -> StreamGroupNames:
    """The process groups of the module's streams, created (collectively) when new."""
    missing = [pair for pair in streams_of(module) if pair not in context.stream_groups]
    if missing:
        if not torch.distributed.is_initialized() or context.layout is None:
            raise CtcError("collectives with a stream need a live process group and a mesh")
        context.stream_groups.update(
            create_stream_groups(module, context.group_names, context.layout)
        )
    return context.stream_groups


class StageCompiler:
    """The forward or backward compiler handed to ``aot_compile_joint_with_descriptors``."""

    def __init__(self, stage: str, context: _Context) -> None:
        self.stage = stage
        self.context = context

    def __call__(self, gm: fx.GraphModule, example_inputs: Sequence[Any]) -> Any:
        from torch._functorch.aot_autograd import make_boxed_func

        from ctc.frontend_fx import lift_function, saved_indices

        context, graph = self.context, gm
        saved = None
        if self.stage == "fwd":
            context.forward_graph = graph
        elif context.forward_graph is not None:
            saved = saved_indices(context.forward_graph)
        func = lift_function(graph, self.stage, context.layout, saved)
        module = Module((func,), context.attributes)
        problems = verify(module)
        if problems:
            raise CtcError(
                f"the lifted @{self.stage} does not verify (a frontend bug): {problems[0]}"
            )
        if context.staged is not None:
            module = context.staged.run(module, self.stage)
        module = parse_module(print_module(module), f"<@{self.stage}>")
        context.report.modules[self.stage] = module
        lowered = self.build(module.function(self.stage), module, graph)
        if self.stage == "bwd" and context.staged is not None:
            for line in context.staged.nothing_done():
                warnings.warn(line, CtcWarning, stacklevel=2)
        from ctc.cudagraphs import wrap_marked_stage

        function = wrap_marked_stage(
            self.stage, module.function(self.stage), lowered, example_inputs, context.report
        )
        return make_boxed_func(function)

    def build(self, func: Func, module: Module, graph: fx.GraphModule) -> fx.GraphModule:
        """Lowers ``func``, compiling its inductor regions, splitting around what fails."""
        stream_groups = _stream_groups(module, self.context)
        placeholders = graph.graph.find_nodes(op="placeholder")
        func = number_regions(func)
        has_regions = any(
            isinstance(op, RegionOp) and op.kind == "inductor" for op in walk_ops(func.ops)
        )
        cache: dict[RegionOp, Any] = {}
        plan = _FallbackPlan(func)
        # Rank 0 compiles first and shares what it learnt; the others then find its kernels in
        # inductor's on-disk cache instead of compiling them again, all at once, on shared cores.
        shared = has_regions and ranks.distributed()
        if shared and torch.distributed.get_rank() != 0:
            plan.adopt(ranks.broadcast(None))
        current = split_around(func, plan.isolate, set(plan.fallbacks))
        while True:
            lowered = lower_function(
                current,
                self.context.group_names,
                stream_groups,
                outline=frozenset({"inductor"}) if has_regions else frozenset(),
            )
            for new, old in zip(
                lowered.graph.find_nodes(op="placeholder"), placeholders, strict=True
            ):
                new.meta.update(old.meta)
            propagate_fake_values(lowered, [p.meta.get("val") for p in placeholders])
            check_types(current, lowered)
            compiled, failures = compile_regions(
                lowered, cache, plan.doomed, lambda failure: plan.add(failure, self.stage)
            )
            if not failures:
                break
            current = split_around(func, plan.isolate, set(plan.fallbacks))
        if shared and torch.distributed.get_rank() == 0:
            ranks.broadcast((plan.isolate, plan.fallbacks))
        fallbacks = list(plan.fallbacks.values())
        self.context.report.regions[self.stage] = compiled
        self.context.report.fallbacks[self.stage] = fallbacks
        if fallbacks:
            listing = "; ".join(f.describe(self.stage) for f in fallbacks)
            warnings.warn(
                f"inductor could not compile {len(fallbacks)} higher-order op(s) of "
                f"@{self.stage}, which run eagerly (the rest of their regions is compiled): "
                f"{listing}. Reason: {fallbacks[0].reason}",
                CtcWarning,
                stacklevel=2,
            )
        return lowered


class _FallbackPlan:
    """Which higher-order ops to compile alone and which to run eagerly, learnt from failures:
    a failed region's higher-order ops are tried alone; one that fails alone runs eagerly, and
    so does every op of the function that would compile alike (``op_signature``)."""

    def __init__(self, func: Func) -> None:
        self.hops = [op for op in walk_ops(func.ops) if op.name.startswith("higher_order.")]
        self.isolate: set[str] = set()
        # Signatures of ops that failed alone (with the reason), and of ops in failed regions.
        self.reasons: dict[tuple[object, ...], str] = {}
        self.suspects: set[tuple[object, ...]] = set()
        self.fallbacks: dict[str, Fallback] = {}
        self.regions = {
            inner.results[0].name: op.region_name
            for op in walk_ops(func.ops)
            if isinstance(op, RegionOp) and op.kind == "inductor"
            for inner in walk_ops(op.body.ops)
            if inner.results
        }

    def adopt(self, learnt: Any) -> None:
        """What rank 0 learnt compiling the same function."""
        isolate, fallbacks = learnt
        self.isolate = set(isolate)
        self.fallbacks = dict(fallbacks)

    def doomed(self, region: RegionOp) -> str | None:
        """Why compiling ``region`` would fail like an earlier one, or None: an op that failed
        alone, or (in a region of several ops) one whose region failed already."""
        signatures = [op_signature(hop) for hop in higher_order_ops(region)]
        for signature in signatures:
            if signature in self.reasons:
                return self.reasons[signature]
        if len(region.body.ops) > 1 and any(s in self.suspects for s in signatures):
            return "a region holding the same higher-order op failed"
        return None

    def add(self, failure: RegionFailure, stage: str) -> None:
        region = failure.region
        hops = higher_order_ops(region)
        if not hops:
            raise CtcError(
                f"inductor could not compile region '{region.region_name}' of @{stage}: "
                f"{failure.reason}"
            )
        if len(region.body.ops) > 1:
            self.isolate.update(hop.results[0].name for hop in hops if hop.results)
            self.suspects.update(op_signature(hop) for hop in hops)
            return
        self.reasons.setdefault(op_signature(hops[0]), failure.reason)
        for hop in self.hops:
            reason = self.reasons.get(op_signature(hop))
            name = hop.results[0].name if hop.results else None
            if reason is None or name is None or name not in self.regions:
                continue
            self.fallbacks.setdefault(name, Fallback(hop.name, name, self.regions[name], reason))


def compile_joint(
    captured: Captured,
    module: Module,
    layout: MeshLayout | None,
    staged: StagedRun | None = None,
    report: StepReport | None = None,
) -> Callable[..., Any]:
    """Installs the module's ``@joint`` (lowered from the IR alone) into ``captured`` and
    compiles it, running ``staged``'s forward and backward passes on the partitioned halves.
    Collectives run on the layout's process groups; collectives with a ``stream`` get process
    groups of their own (created collectively: every rank must call this)."""
    from torch._functorch.aot_autograd import aot_compile_joint_with_descriptors

    group_names = dict(layout.group_names()) if layout is not None else {}
    context = _Context(layout, group_names, {}, staged, module.attributes, report or StepReport())
    stream_groups = _stream_groups(module, context)
    lower_into_joint(module.function("joint"), captured.joint, group_names, stream_groups)
    with torch._guards.tracing(captured.tracing_context):
        return aot_compile_joint_with_descriptors(
            captured.joint,
            fw_compiler=StageCompiler("fwd", context),
            bw_compiler=StageCompiler("bwd", context),
        )
