"""torch 2.13's overlap passes on a captured joint graph, fed ctc's costs, and their outputs
lifted back into ctc's IR.

- ``schedule_overlap_bucketing`` (torch's cost-model scheduler with bucketing) gets ctc's cost
  model as ``custom_runtime_estimation``, so both schedulers see the same op times.
- ``manual_overlap_bucketing`` buckets the FSDP collectives of each transformer block, after
  torchtitan's ``reassign_collective_pgs_pass`` moved FSDP all-gathers to a process group of their
  own (as torchtitan's graph trainer runs it), so they overlap reduce-scatters.

On the CPU both need ``get_gpu_dram_gbps`` patched (they ask triton) and the analytical compute
estimator (the benchmark one needs CUDA); torch's memory tracker is told to count CPU tensors,
or its memory limit would see nothing. ctc's lifter has no ``all_gather_into_tensor_out``:
``functional_for_lift`` rewrites it to ``all_gather_into_tensor`` and the lifted collective is
marked ``inplace`` (``ctc.schedule.memory``), so it still writes into torch's bucket buffer.
"""

from __future__ import annotations

import functools
import operator
import time
from typing import Any

import attrs
import torch
import torch.fx as fx

from ctc.frontend_fx import MeshLayout, lift_function
from ctc.ir.attributes import DictAttr
from ctc.ir.core import Func, Module, Op
from ctc.ir.ops import CollectiveOp
from ctc.schedule.bucketing import ALL_GATHER_STREAM
from ctc.schedule.cost import CostModel
from ctc.schedule.graph import flatten
from ctc.schedule.memory import INPLACE

C10D = torch.ops._c10d_functional
COLLECTIVE_TARGETS = {
    C10D.all_gather_into_tensor.default,
    C10D.all_gather_into_tensor_out.default,
    C10D.reduce_scatter_tensor.default,
    C10D.all_reduce.default,
    C10D.all_to_all_single.default,
}
# H100 HBM in GB/s: only the fallback roofline of nodes ctc gives no time reads it.
DRAM_GBPS = 3350.0


def patch_torch_for_cpu() -> None:
    """What torch's overlap passes need to run on the CPU under a fake process group."""
    import torch._inductor.fx_passes.bucketing  # noqa: F401  (registers the bucketing ops)
    import torch._inductor.fx_passes.overlap_scheduling as scheduling
    import torch.utils._runtime_estimation as estimation
    from torch._inductor.fx_passes.memory_estimator import MemoryTracker

    setattr(estimation, "get_gpu_dram_gbps", lambda: DRAM_GBPS)  # noqa: B010
    tracker = functools.partial(MemoryTracker, device_filter=lambda device: True)
    setattr(scheduling, "MemoryTracker", tracker)  # noqa: B010


def copy_graph_module(gm: fx.GraphModule) -> fx.GraphModule:
    """A copy of ``gm``'s graph (same node names, metadata shared) on the same attributes, for a
    pass that rewrites it in place."""
    graph = fx.Graph()
    output = graph.graph_copy(gm.graph, {})
    graph.output(output)
    return fx.GraphModule(gm, graph)


class CostBridge:
    """``custom_runtime_estimation`` for torch: the ctc op time (ms) of the IR op lifted from an
    FX node, looked up by the node's name (or its getitem users' names for a multi-output node).
    Collectives asked with ``override_size`` (bytes in + out of a bucket) keep ctc's latency
    and scale ctc's transfer time by the size."""

    def __init__(self, func: Func, cost_model: CostModel) -> None:
        self.cost_model = cost_model
        self.ops: dict[str, Op] = {}
        self.times: dict[str, float] = {}
        for op in flatten(func).ops:
            milliseconds = cost_model.op_time(op) * 1e3
            for result in op.results:
                self.ops[result.name] = op
                self.times[result.name] = milliseconds
        self.calls = 0
        self.misses = 0

    def _name(self, node: fx.Node) -> str | None:
        if node.name in self.times:
            return node.name
        for user in node.users:
            if user.target is operator.getitem and user.name in self.times:
                return user.name
        return None

    def __call__(self, node: fx.Node, override_size: int | None) -> float | None:
        self.calls += 1
        name = self._name(node)
        if name is None:
            self.misses += 1
            return None
        op = self.ops[name]
        if override_size is None or not isinstance(op, CollectiveOp):
            return self.times[name]
        from torch._inductor.comm_analysis import estimate_fx_collective_size

        latency, transfer = self.cost_model.collective_parts(op)
        size = estimate_fx_collective_size(node)
        scale = override_size / size if size else 0.0
        return (latency + transfer * scale) * 1e3


@attrs.frozen
class TorchResult:
    graph_module: fx.GraphModule
    seconds: float
    all_gather_groups: frozenset[str]  # process groups torch gave FSDP all-gathers of their own


def run_schedule_overlap(gm: fx.GraphModule, bridge: CostBridge) -> TorchResult:
    from torch._inductor.fx_passes.overlap_scheduling import schedule_overlap_bucketing

    work = copy_graph_module(gm)
    start = time.perf_counter()
    result = schedule_overlap_bucketing(
        work,
        collective_bucketing=True,
        insert_overlap_deps=False,
        custom_runtime_estimation=bridge,
        compute_estimator="analytical",
        max_off_bucket_gb=None,
        pre_bucketing_fsdp_collectives=False,
    )
    seconds = time.perf_counter() - start
    return TorchResult(result, seconds, frozenset())


def module_path(node: fx.Node) -> list[tuple[str, type[Any]]]:
    """The module stack for ``manual_overlap_bucketing``: graph_trainer's graphs carry the path
    in ``meta["custom"]["module_fqn"]``, not ``nn_module_stack``."""
    path = (node.meta.get("custom") or {}).get("module_fqn")
    return [(path, torch.nn.Module)] if path else []


def block_plans(gm: fx.GraphModule) -> list[list[str] | str]:
    """graph_trainer's default plan for the modules in ``gm``: the embedding, each layer, then
    the final norm and output together."""
    tops: list[str] = []
    layers: list[int] = []
    for node in gm.graph.nodes:
        path = (node.meta.get("custom") or {}).get("module_fqn") or ""
        parts = path.split(".")
        if parts[0] == "layers" and len(parts) > 1 and parts[1].isdigit():
            if int(parts[1]) not in layers:
                layers.append(int(parts[1]))
        elif parts[0] and parts[0] not in tops and parts[0] != "loss":
            tops.append(parts[0])
    first = [name for name in tops if name in ("tok_embeddings",)]
    last = [name for name in tops if name not in first]
    return [*first, *(f"layers.{n}" for n in sorted(layers)), last]


def run_manual(gm: fx.GraphModule) -> TorchResult:
    from torch._inductor.fx_passes.overlap_manual_scheduling import manual_overlap_bucketing
    from torchtitan.experiments.graph_trainer.fsdp_passes import reassign_collective_pgs_pass

    work = copy_graph_module(gm)
    before = _group_names(work)
    plans = block_plans(work)
    start = time.perf_counter()
    work = reassign_collective_pgs_pass(work)
    result = manual_overlap_bucketing(work, plans, module_stack_fn=module_path)
    seconds = time.perf_counter() - start
    return TorchResult(result, seconds, frozenset(_group_names(result) - before))


def _group_names(gm: fx.GraphModule) -> set[str]:
    names: set[str] = set()
    for node in gm.graph.nodes:
        if node.target in COLLECTIVE_TARGETS:
            names.update(arg for arg in node.args if isinstance(arg, str) and arg.isalnum())
    return names


def functional_for_lift(gm: fx.GraphModule) -> set[str]:
    """Rewrites ``all_gather_into_tensor_out(x, size, group, out=buffer)`` (ctc's lifter has no
    such collective) to ``all_gather_into_tensor(x, size, group)`` in place; the names of the
    rewritten nodes, whose lifted collectives are to be marked ``inplace``."""
    rewritten = set()
    for node in gm.graph.nodes:
        if node.target is C10D.all_gather_into_tensor_out.default:
            node.target = C10D.all_gather_into_tensor.default
            node.args = tuple(node.args[:3])
            node.kwargs = {}
            rewritten.add(node.name)
    return rewritten


def lift_output(
    result: TorchResult,
    layout: MeshLayout,
    mesh: DictAttr,
    seq_base: int,
) -> Module:
    """torch's output graph as an IR module like the captured one: the rewritten
    ``_out`` gathers marked ``inplace``, the all-gathers torch moved to a group of their own
    on ctc's ``fsdp_all_gather`` stream (the same communicator split ``bucket`` makes)."""
    gm = result.graph_module
    inplace = functional_for_lift(gm)
    own_stream = {
        node.name
        for node in gm.graph.nodes
        if node.target is C10D.all_gather_into_tensor.default
        and node.args[2] in result.all_gather_groups
    }
    func = lift_function(gm, "joint", layout, seq_base=seq_base)
    ops = [_mark(op, inplace, own_stream) for op in func.ops]
    return Module((func.with_ops(ops),), mesh)


def _mark(op: Op, inplace: set[str], own_stream: set[str]) -> Op:
    if not isinstance(op, CollectiveOp) or not op.results:
        return op
    name = op.results[0].name
    attributes = op.attributes
    if name in inplace:
        attributes = attributes.with_entry(INPLACE, True)
    if name in own_stream:
        attributes = attributes.with_entry("stream", ALL_GATHER_STREAM)
    return op if attributes == op.attributes else op.replace(attributes=attributes)
