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


def tiny_step(rank: int, world_size: int, mesh_shape: tuple[int, int], passes: str) -> Any:
    import torch
    from torch.distributed.device_mesh import init_device_mesh

    from ctc.api import resolve_layout
    from ctc.backend import compile_joint
    from ctc.frontend import export_joint, lift_captured
    from ctc.ir import parse_module, print_module
    from ctc.models.tiny import build_tiny, tiny_inputs

    torch.use_deterministic_algorithms(True)
    mesh = init_device_mesh("cpu", mesh_shape, mesh_dim_names=("dp_shard", "tp"))
    x, target = tiny_inputs(seed=10 + rank)

    eager = build_tiny(mesh)
    eager_loss = eager(x, target)
    eager_loss.backward()

    model = build_tiny(mesh)
    layout = resolve_layout(model, None)
    captured = export_joint(model, (x, target))
    module = parse_module(print_module(lift_captured(captured, layout)), "<lifted>")
    if passes:
        from ctc.dsl import parse_pipeline
        from ctc.passes.manager import PassManager, RunOptions

        pipeline = parse_pipeline(passes, device="cpu")
        module = PassManager(pipeline, RunOptions(verify_each=True)).run(module)
    step = compile_joint(captured, module, layout)
    captured.close()
    params = [p for _, p in model.named_parameters(remove_duplicate=False)]
    buffers = list(model.buffers())
    loss = step(*params, *buffers, x, target)
    loss.backward()
    return {
        "eager_loss": eager_loss.detach().float().numpy(),
        "loss": loss.detach().float().numpy(),
        "eager_grads": _grads(eager),
        "grads": _grads(model),
        "ir": print_module(module),
    }
