"""Training steps built from torch alone (no torchtitan), for the paths that must work wherever
torch does, torch 2.11 included (``tests/plain``, the GPU machine).

- ``PlainStep``: the tiny two-block MLP step of ``ctc.models.tiny``, no mesh.
- ``AllReduceStep``: a linear layer whose output is summed over the mesh with torch's
  functional collectives (``all_reduce`` and ``wait_tensor`` in the captured graph), as a
  hand-written tensor-parallel or data-parallel step would.
- ``build_tensor_parallel``: the tiny step with ``w1`` column- and ``w2`` row-parallel through
  torch's own ``parallelize_module``.
- ``build_tensor_data_parallel``: the same, with every weight sharded over ``dp_shard`` by
  ``ctc.models.simple_dp`` (the torchtitan-free stand-in for ``ctc.models.tiny.build_tiny``).

On one rank only ``AllReduceStep`` keeps collectives in its graph: DTensor issues none over a
mesh dimension of size 1, functional collectives always do.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ctc.models.tiny import DIM, HIDDEN, TinyStep, tiny_inputs

__all__ = [
    "DIM",
    "HIDDEN",
    "AllReduceStep",
    "PlainStep",
    "build_tensor_data_parallel",
    "build_tensor_parallel",
    "tiny_inputs",
]

PlainStep = TinyStep


class AllReduceStep(nn.Module):
    """``loss = mean((sum_over_mesh(w(x)) - target)^2)``: the sum over the device mesh ``mesh`` is
    one functional all-reduce per dimension in ``dims`` (a hierarchical all-reduce), each on the
    group of ``mesh[dim]``. The step slices the mesh itself, as SimpleFSDP does in every forward
    (under torch 2.11 that needs ``ctc.compat.mesh_slice_tracing`` to be captured)."""

    def __init__(self, mesh: Any, dims: tuple[str, ...], dim: int = DIM) -> None:
        super().__init__()
        self.mesh = mesh
        self.dims = dims
        self.w = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        import torch.distributed._functional_collectives as funcol

        summed = self.w(x)
        for name in self.dims:
            summed = funcol.all_reduce(summed, "sum", self.mesh[name])
        return ((summed - target) ** 2).sum() / x.numel()


def build_tensor_parallel(mesh: Any, seed: int = 0) -> TinyStep:
    """The tiny step with ``w1`` column- and ``w2`` row-parallel over ``mesh["tp"]``."""
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )

    torch.manual_seed(seed)
    step = TinyStep(DIM, HIDDEN)
    for block in step.blocks:
        parallelize_module(block, mesh["tp"], {"w1": ColwiseParallel(), "w2": RowwiseParallel()})
    return step


def build_tensor_data_parallel(mesh: Any, seed: int = 0) -> TinyStep:
    """``build_tensor_parallel`` with every weight sharded over ``mesh["dp_shard"]``."""
    from ctc.models.simple_dp import shard_parameters

    step = build_tensor_parallel(mesh, seed)
    shard_parameters(step, mesh["dp_shard"])
    return step
