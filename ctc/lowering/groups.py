"""Process groups for collectives that carry a ``stream``: a communicator of their own over the
same ranks as their mesh group, so that (as the simulator models) FSDP all-gathers do not queue
behind reduce-scatters of the same group."""

from __future__ import annotations

import torch.distributed as dist

from ctc.ir.core import Module, walk_ops
from ctc.ir.ops import CollectiveOp
from ctc.lowering.to_fx import GroupNames, StreamGroupNames


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


def create_stream_groups(module: Module, group_names: GroupNames) -> StreamGroupNames:
    """Creates, collectively on every rank, one new process group per (dimensions, stream) pair
    and per subgroup of the mesh, and returns this rank's group names. Every rank must call it
    with the same module."""
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    # Called while a capture's fake mode may still be active: the exchange is real.
    with unset_fake_temporarily():
        return _create(module, group_names)


def _create(module: Module, group_names: GroupNames) -> StreamGroupNames:
    from torch.distributed.distributed_c10d import _resolve_process_group

    created: dict[tuple[tuple[str, ...], str], str] = {}
    for dims, stream in streams_of(module):
        base = _resolve_process_group(group_names[dims])  # type: ignore[arg-type]
        mine = sorted(dist.get_process_group_ranks(base))
        every: list[list[int] | None] = [None] * dist.get_world_size()
        dist.all_gather_object(every, mine)
        subgroups = sorted({tuple(ranks) for ranks in every if ranks is not None})
        group, _ = dist.new_subgroups_by_enumeration([list(ranks) for ranks in subgroups])
        assert group is not None
        created[(dims, stream)] = group.group_name
    return created
