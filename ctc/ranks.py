"""What one rank computes once for all: rank 0 does the work, the others receive the result.

The IR is the same on every rank (collectives name mesh dimensions, not process groups), so the
joint's lifting and passes, and what inductor could not compile, are decided by rank 0 and
broadcast; the other ranks parse or adopt them. Collectives run outside AOT autograd's fake mode.
"""

from __future__ import annotations

from typing import Any


def distributed() -> bool:
    """Whether a process group of more than one rank is live."""
    import torch.distributed as dist

    return bool(dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1)


def is_first() -> bool:
    """Rank 0, or the only process."""
    import torch.distributed as dist

    return not distributed() or dist.get_rank() == 0


def broadcast(value: Any) -> Any:
    """``value`` from rank 0, on every rank (rank 0 passes it, the others receive it)."""
    import torch.distributed as dist
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    box = [value]
    with unset_fake_temporarily():
        dist.broadcast_object_list(box, src=0)
    return box[0]
