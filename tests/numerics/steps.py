"""Rank workers for the numerics tests (importable, so spawned processes can run them).

Each worker builds the model on a real gloo mesh, runs one eager step (loss and gradients),
then captures the same step, lifts it to IR, prints it and parses the text back (the IR is the
only thing lowering sees), optionally runs a pipeline on it, compiles it through
``aot_compile_joint_with_descriptors`` and runs it. It returns both results as numpy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _grads(model: Any) -> dict[str, np.ndarray]:
    grads = {}
    for name, parameter in model.named_parameters():
        grad = parameter.grad
        local = grad.to_local() if hasattr(grad, "to_local") else grad
        grads[name] = local.detach().clone().float().numpy()
    return grads


def tiny_step(
    rank: int,
    world_size: int,
    mesh_shape: tuple[int, int],
    passes: str,
    steps: int = 1,
    sequence_parallel: bool = False,
) -> Any:
    """``steps`` SGD steps of the tiny model, eager and through ``ctc.compile`` with ``passes``;
    every step's loss and the last step's gradients of both. ``sequence_parallel``: the blocks'
    inputs sharded by rows over ``tp`` (``tp_overlap_steps.sequence_parallel_tiny``)."""
    import torch
    from torch.distributed.device_mesh import init_device_mesh

    import ctc
    from ctc.ir import print_module
    from ctc.models.tiny import build_tiny, tiny_inputs
    from tests.numerics.tp_overlap_steps import sequence_parallel_tiny

    torch.use_deterministic_algorithms(True)
    mesh = init_device_mesh("cpu", mesh_shape, mesh_dim_names=("dp_shard", "tp"))
    build = sequence_parallel_tiny if sequence_parallel else build_tiny
    eager = build(mesh)
    model = build(mesh)
    compiled = ctc.compile(model, pipeline=passes, device="cpu")
    losses, eager_losses = [], []
    for step in range(steps):
        x, target = tiny_inputs(seed=10 + rank + 100 * step)
        for net, record in ((eager, eager_losses), (compiled, losses)):
            net.zero_grad()
            loss = net(x, target)
            loss.backward()
            record.append(loss.detach().float().numpy())
            if step < steps - 1:
                with torch.no_grad():
                    for parameter in net.parameters():
                        parameter -= 0.1 * parameter.grad
    report = compiled.last_report()
    return {
        "eager_loss": np.stack(eager_losses),
        "loss": np.stack(losses),
        "eager_grads": _grads(eager),
        "grads": _grads(model),
        "ir": print_module(report.modules["joint"]),
        "fwd_ir": print_module(report.modules["fwd"]),
        "bwd_ir": print_module(report.modules["bwd"]),
        "fallbacks": {stage: len(items) for stage, items in report.fallbacks.items()},
    }


def tiny_pipelines(
    rank: int, world_size: int, mesh_shape: tuple[int, int], pipelines: list[str], steps: int
) -> dict[str, Any]:
    """``tiny_step`` for each pipeline in turn, in one launch of the ranks."""
    return {text: tiny_step(rank, world_size, mesh_shape, text, steps) for text in pipelines}


def torchtitan_pipelines(
    rank: int, world_size: int, model: str, mesh: str, pipelines: list[str], steps: int
) -> dict[str, Any]:
    """``steps`` SGD steps of a torchtitan model (sequence 64, batch 1) through ``ctc.compile``
    with each pipeline, beside an eager copy: per step, whether the loss and every gradient were
    bitwise equal, and the largest gradient difference."""
    import torch

    from tests.numerics.harness import TrainConfig, train_rank

    results = {}
    for text in pipelines:
        config = TrainConfig(
            model=model,
            flavor="debugmodel",
            mesh=mesh,
            passes=text,
            steps=steps,
            batch=1,
            seq_len=64,
            lr=1e-2,
        )
        report = train_rank(rank, world_size, config)
        results[text] = [
            (step["loss"] == step["eager_loss"], step["grads_equal"]) for step in report["steps"]
        ]
        torch.distributed.barrier()
    return results
