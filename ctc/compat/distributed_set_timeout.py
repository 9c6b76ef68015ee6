"""Gap: torchtitan 0.3.0 lowers the process groups' timeout after the first step with
``torch.distributed.set_timeout``, which torch 2.13 does not have (it has the private
``distributed_c10d._set_pg_timeout``): without this, a training run dies after step 1.

``apply()`` defines ``torch.distributed.set_timeout(timeout, group=None)`` on top of
``_set_pg_timeout`` when torch lacks it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any


def needed() -> bool:
    import torch.distributed as dist

    return not hasattr(dist, "set_timeout")


def set_timeout(timeout: timedelta, group: Any = None) -> None:
    from torch.distributed import distributed_c10d

    distributed_c10d._set_pg_timeout(timeout, group)


def apply() -> None:
    import torch.distributed as dist

    if needed():
        dist.set_timeout = set_timeout  # type: ignore[attr-defined]
