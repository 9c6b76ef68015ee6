"""Rank workers for the torchtitan-free paths (importable, so spawned processes can run them).

Each worker builds a plain-torch model (``ctc.models.plain``) on a real gloo mesh, runs one eager
step, then captures the same step, lifts it to IR, prints the IR and parses the text back (the
text is all lowering sees), lowers it into the capture, compiles it with
``ctc.backend_inductor.compile_joint`` and runs it. It returns both losses and gradients as numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

# The kinds of step, each with the mesh dimension names its mesh uses.
MESH_NAMES = {
    "plain": None,
    "all_reduce": ("dp", "tp"),
    "tensor_parallel": ("tp",),
    "tensor_data_parallel": ("dp_shard", "tp"),
}


def compile_through_text(
    model: torch.nn.Module, inputs: Sequence[torch.Tensor], mesh: Any
) -> tuple[Callable[..., Any], str]:
    """capture -> IR text -> parse -> lower -> compile_joint: the compiled step (called with
    ``(*parameters, *buffers, *inputs)``) and the IR text it was lowered from."""
    from ctc.api import resolve_layout
    from ctc.backend_inductor import compile_joint
    from ctc.frontend_fx import export_joint, lift_captured
    from ctc.ir import parse_module, print_module

    layout = resolve_layout(model, mesh)
    with export_joint(model, inputs) as captured:
        text = print_module(lift_captured(captured, layout))
        module = parse_module(text, "<lifted>")
        step = compile_joint(captured, module, layout)
    return step, text


def run_compiled(step: Callable[..., Any], model: torch.nn.Module, inputs: Sequence[Any]) -> Any:
    parameters = [p for _, p in model.named_parameters(remove_duplicate=False)]
    return step(*parameters, *model.buffers(), *inputs)


def local_grads(model: torch.nn.Module) -> dict[str, np.ndarray]:
    from ctc.models.simple_dp import local_gradients

    return {name: g.detach().float().numpy() for name, g in local_gradients(model).items()}


def _builder(kind: str, mesh: Any) -> Callable[[], torch.nn.Module]:
    from ctc.models import plain

    if kind == "plain":
        return lambda: _seeded(plain.PlainStep)
    if kind == "all_reduce":
        return lambda: _seeded(lambda: plain.AllReduceStep(mesh, ("dp", "tp")))
    if kind == "tensor_parallel":
        return lambda: plain.build_tensor_parallel(mesh)
    if kind == "tensor_data_parallel":
        return lambda: plain.build_tensor_data_parallel(mesh)
    raise ValueError(f"unknown step kind {kind!r}")


def _seeded(build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    torch.manual_seed(0)
    return build()


def _mesh(kind: str, mesh_shape: tuple[int, ...]) -> Any:
    names = MESH_NAMES[kind]
    if names is None:
        return None
    from torch.distributed.device_mesh import init_device_mesh

    return init_device_mesh("cpu", mesh_shape, mesh_dim_names=names)


def eager_and_compiled(
    rank: int, world_size: int, kind: str, mesh_shape: tuple[int, ...] = ()
) -> dict[str, Any]:
    """One step of ``kind`` eager and through the IR text, on this rank."""
    from ctc.models.plain import tiny_inputs

    torch.use_deterministic_algorithms(True)
    mesh = _mesh(kind, mesh_shape)
    build = _builder(kind, mesh)
    x, target = tiny_inputs(seed=10 + rank)

    eager = build()
    eager_loss = eager(x, target)
    eager_loss.backward()

    model = build()
    step, text = compile_through_text(model, (x, target), mesh)
    loss = run_compiled(step, model, (x, target))
    loss.backward()
    result = {
        "eager_loss": eager_loss.detach().float().numpy(),
        "loss": loss.detach().float().numpy(),
        "eager_grads": local_grads(eager),
        "grads": local_grads(model),
        "ir": text,
    }
    if kind == "tensor_data_parallel":
        result["summed_shards"] = summed_tensor_parallel_shards(mesh, x, target)
    return result


def summed_tensor_parallel_shards(
    mesh: Any, x: torch.Tensor, target: torch.Tensor
) -> dict[str, np.ndarray]:
    """What data parallelism should give each rank: the tensor-parallel-only model's gradients
    summed over ``dp_shard`` (each rank has its own batch), cut to this rank's rows."""
    import torch.distributed as dist

    from ctc.models.plain import build_tensor_parallel

    model = build_tensor_parallel(mesh)
    model(x, target).backward()
    dp_mesh = mesh["dp_shard"]
    rank, size = dp_mesh.get_local_rank(), dp_mesh.size()
    shards = {}
    for name, grad in local_grads(model).items():
        summed = torch.from_numpy(grad)
        dist.all_reduce(summed, group=dp_mesh.get_group())
        rows = summed.shape[0] // size
        shards[name] = summed[rank * rows : (rank + 1) * rows].numpy()
    return shards


def several_kinds(
    rank: int, world_size: int, cases: Sequence[tuple[str, tuple[int, ...]]]
) -> dict[str, dict[str, Any]]:
    """``eager_and_compiled`` for each (kind, mesh shape) in one process, by kind (one process
    start instead of several for the one-rank tests)."""
    return {kind: eager_and_compiled(rank, world_size, kind, shape) for kind, shape in cases}
