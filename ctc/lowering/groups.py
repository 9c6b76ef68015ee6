"""Process groups for collectives that carry a ``stream``: a communicator of their own over the
same ranks as their mesh group, so that (as the simulator models) FSDP all-gathers do not queue
behind reduce-scatters of the same group."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import torch.distributed as dist

from ctc.errors import CtcError
from ctc.ir.core import Module, walk_ops
from ctc.ir.ops import CollectiveOp
from ctc.lowering.to_fx import GroupNames, StreamGroupNames

if TYPE_CHECKING:
    from ctc.frontend_fx.groups import MeshLayout


def streams_of(module: Module) -> list[tuple[tuple[str, ...], str]]:
    """The (mesh dimensions, stream) pairs the module's collectives use, in a rank-independent
    order."""
    found = {
        (op.group_dims, op.stream)
        for func in module.functions
        for op in walk_ops(func.ops)
        if isinstance(op, CollectiveOp) and op.stream is not None
    }
    return sorted(found)


def create_stream_groups(
    module: Module, group_names: GroupNames, layout: MeshLayout
) -> StreamGroupNames:
    """Creates, on every rank in the same order, one new process group per (dimensions,
    stream) pair and per subgroup of the mesh along those dimensions, and returns this rank's
    group names. Every rank must call it with the same module. The subgroups come from the
    layout's rank grids, so no collective runs (a capture's modes may still be active)."""
    created: dict[tuple[tuple[str, ...], str], str] = {}
    for dims, stream in streams_of(module):
        subgroups = subgroups_along(layout, dims)
        group, _ = dist.new_subgroups_by_enumeration([sorted(g) for g in subgroups])
        if group is None:
            raise CtcError(f"rank {dist.get_rank()} is in no {'+'.join(dims)} group")
        created[(dims, stream)] = group.group_name
    return created


def subgroups_along(layout: MeshLayout, dims: tuple[str, ...]) -> list[frozenset[int]]:
    """Every group of ranks that differ only along ``dims``, sorted by their smallest rank."""
    for grid in layout.grids:
        for count in range(1, len(grid.axes) + 1):
            for axes in itertools.combinations(range(len(grid.axes)), count):
                if tuple(d for axis in axes for d in grid.axes[axis]) != dims:
                    continue
                groups = {grid.group_of(axes, rank) for rank in grid.ranks}
                return sorted((g for g in groups if g is not None), key=min)
    raise CtcError(f"no rank grid of the mesh spans the dimensions {'+'.join(dims)}")
