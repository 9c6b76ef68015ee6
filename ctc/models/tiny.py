"""A tiny two-block MLP step with tensor parallel and SimpleFSDP, for tests and examples.

Each block is ``x + w2(relu(w1(x)))`` with ``w1`` column-parallel and ``w2`` row-parallel over
``tp`` (one all-reduce per block forward and backward), every weight sharded over ``dp_shard``
by graph_trainer's ``simple_fsdp.data_parallel`` (an all-gather per weight forward, a
reduce-scatter per gradient). The step returns the mean squared error against a target, so the
joint graph ends in the loss.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

DIM = 8
HIDDEN = 16
BATCH = 4


class TinyBlock(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.w2(torch.relu(self.w1(x)))


class TinyStep(nn.Module):
    """Two blocks and a squared-error loss: ``step(x, target) -> loss``."""

    def __init__(self, dim: int = DIM, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([TinyBlock(dim, hidden), TinyBlock(dim, hidden)])

    def forward(self, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return ((x - target) ** 2).sum() / x.numel()


def build_tiny(
    mesh: Any,
    seed: int = 0,
    param_dtype: torch.dtype | None = None,
    tp_plan: dict[str, Any] | None = None,
) -> TinyStep:
    """The tiny step parallelized on ``mesh`` (a DeviceMesh with dimensions ``dp_shard`` and
    ``tp``); weights from ``torch.manual_seed(seed)``, so every rank builds the same model.
    ``tp_plan``: each block's tensor-parallel plan (default: ``w1`` column-wise, ``w2``
    row-wise, replicated activations between blocks)."""
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )
    from torchtitan.experiments.graph_trainer.simple_fsdp import (
        MixedPrecisionPolicy,
        data_parallel,
    )

    torch.manual_seed(seed)
    step = TinyStep()
    plan = tp_plan or {"w1": ColwiseParallel(), "w2": RowwiseParallel()}
    for block in step.blocks:
        parallelize_module(block, mesh["tp"], plan)
    policy = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=None)
    result: TinyStep = data_parallel(step, mesh["dp_shard"], mode="fully_shard", mp_policy=policy)
    return result


def tiny_inputs(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, DIM, generator=generator)
    target = torch.randn(BATCH, DIM, generator=generator)
    return x, target


def build_tiny_step(
    spec: Any,
    seed: int = 0,
    param_dtype: str | None = None,
    input_seed: int | None = None,
) -> Any:
    """The tiny step as a ``ctc.models.step.BuiltStep`` on ``spec``'s ``dp_shard x tp`` mesh,
    under the live process group (or a fake one of that size)."""
    from torch.distributed.device_mesh import init_device_mesh

    from ctc.api import resolve_layout
    from ctc.models.step import BuiltStep
    from ctc.models.torchtitan import ensure_process_group

    ensure_process_group(spec.world_size)
    mesh = init_device_mesh(
        "cpu", (spec.size("dp_shard"), spec.size("tp")), mesh_dim_names=("dp_shard", "tp")
    )
    dtype = getattr(torch, param_dtype) if param_dtype else None
    step = build_tiny(mesh, seed=seed, param_dtype=dtype)
    inputs = tiny_inputs() if input_seed is None else tiny_inputs(seed=input_seed)
    return BuiltStep(step, inputs, {}, resolve_layout(step, mesh), spec)
