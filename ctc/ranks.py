"""What the ranks of a job share: rank 0 decides, the others receive (``broadcast``), and
whether a text is the same on every rank (``first_difference``).

Collectives name mesh dimensions, not process groups, so most of a step's IR is the same on
every rank; but a rank's capture can bake in its own coordinates (tensor parallelism's vocabulary
range in the embedding and the loss), so each rank lifts its own capture and a file meant for all
of them is checked against every rank's. What inductor could not compile is decided by rank 0.
Collectives here run outside AOT autograd's fake mode.
"""

from __future__ import annotations

import difflib
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


def first_difference(text: str) -> str | None:
    """``None`` when ``text`` is the same on every rank; else, on every rank, where the first
    rank whose text differs from rank 0's departs from it (its line, both versions)."""
    import torch.distributed as dist
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    if not distributed():
        return None
    texts: list[Any] = [None] * dist.get_world_size()
    with unset_fake_temporarily():
        dist.all_gather_object(texts, text)
    for rank, other in enumerate(texts[1:], start=1):
        if other != texts[0]:
            return f"rank {rank} differs from rank 0: {first_line_apart(texts[0], other)}"
    return None


def first_line_apart(first: str, second: str) -> str:
    """Where ``second`` departs from ``first``: the first line that differs, both versions."""
    a, b = first.splitlines(), second.splitlines()
    for tag, i1, _, j1, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            mine = a[i1].strip() if i1 < len(a) else "(end)"
            theirs = b[j1].strip() if j1 < len(b) else "(end)"
            return f"line {i1 + 1} is `{mine}` on rank 0 and `{theirs}` there"
    return "(no line differs)"
