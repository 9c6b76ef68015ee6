"""Counting collectives straight from an FX graph, independently of the lifting code: a test
compares these counts with the lifted IR's."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import torch
import torch.fx as fx

# torch's functional collective -> the IR op it should become.
IR_NAMES = {
    "all_gather_into_tensor": "coll.all_gather",
    "reduce_scatter_tensor": "coll.reduce_scatter",
    "all_reduce": "coll.all_reduce",
    "all_to_all_single": "coll.all_to_all",
}


def fx_collectives(graph: fx.Graph, group_dims: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """``{"coll.all_gather dp_shard": {"count": n, "bytes": b}}``: per collective kind and mesh
    dimension (named through ``group_dims``, process group name -> dimension), how many and
    how many input bytes on one rank."""
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for node in graph.nodes:
        target = node.target
        if not isinstance(target, torch._ops.OpOverload):
            continue
        if target.namespace != "_c10d_functional" or target._opname not in IR_NAMES:
            continue
        key = f"{IR_NAMES[target._opname]} {group_dims[node.args[-1]]}"
        source = node.args[0].meta["val"]
        counts[key] += 1
        sizes[key] += source.numel() * source.element_size()
    return {key: {"count": counts[key], "bytes": sizes[key]} for key in sorted(counts)}
