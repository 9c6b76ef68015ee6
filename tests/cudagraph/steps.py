"""Rank workers for the CUDA graph tests (importable: spawned ranks run them).

``compare_pipelines`` trains each case's model for a few SGD steps through ``ctc.compile`` twice,
with a pipeline ending in ``cudagraph`` and with the same pipeline without it, from the same
weights on the same inputs (new input tensors each step, so copying into the graph's buffers is
exercised). On a GPU the graphs are real; with ``simulate`` (the CPU) ``ctc.cudagraphs`` runs on
``tests.cudagraph.simulated.SimulatedBackend``. After the last step the graphs are released and
one more step runs (it warms up again). Each case's result, or its error, comes back by name, so
one failing case does not hide the others.
"""

from __future__ import annotations

import traceback
from typing import Any

import attrs
import torch

# name -> (model kind, pipeline with cudagraph, the same without, bitwise comparison expected)
CASES: dict[str, tuple[str, str, str, bool]] = {
    "all_reduce": ("all_reduce", "cudagraph", "", True),
    "all_reduce_inductor": ("all_reduce", "inductor(all),cudagraph", "inductor(all)", True),
    "llama_inductor": ("llama", "inductor(all),cudagraph", "inductor(all)", False),
}


def _model(kind: str, device: torch.device) -> torch.nn.Module:
    if kind == "all_reduce":
        from torch.distributed.device_mesh import init_device_mesh

        from ctc.models.plain import AllReduceStep

        mesh = init_device_mesh(device.type, (1, 1), mesh_dim_names=("dp", "tp"))
        torch.manual_seed(0)
        return AllReduceStep(mesh, ("dp", "tp")).to(device)
    from ctc.models.llama_plain import SIZES, build_llama

    return build_llama(SIZES["tiny"], device=device)


def _inputs(kind: str, step: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    if kind == "all_reduce":
        from ctc.models.plain import tiny_inputs

        x, target = tiny_inputs(seed=10 + step)
        return x.to(device), target.to(device)
    from ctc.models.llama_plain import SIZES, llama_batch

    return llama_batch(SIZES["tiny"], device=device, seed=1 + step)


def _graph_output_addresses(compiled: Any) -> set[int]:
    graphs = compiled.last_report().cuda_graphs
    if graphs is None or "bwd" not in graphs.stages:
        return set()
    outputs = graphs.stages["bwd"].outputs or ()
    return {o.data_ptr() for o in outputs if isinstance(o, torch.Tensor)}


def train(kind: str, pipeline: str, device: torch.device, steps: int) -> dict[str, Any]:
    """``steps`` SGD steps through ``ctc.compile(pipeline)``, then the graphs released and one
    more step: per step the loss, gradients (as lists: tensors would travel between processes by shared
    memory, and numpy may be absent where the GPU is) and graph counts."""
    import ctc

    model = _model(kind, device)
    mesh = getattr(model, "mesh", None)  # AllReduceStep: its collectives name its mesh
    compiled = ctc.compile(model, pipeline=pipeline, device="cuda", mesh=mesh)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    result: dict[str, Any] = {"losses": [], "grads": [], "counts": [], "grad_aliases": False}
    for step in range(steps + 1):
        if step == steps:
            compiled.release_cuda_graphs()
        optimizer.zero_grad(set_to_none=True)
        loss = compiled(*_inputs(kind, step, device))
        loss.backward()
        result["losses"].append(loss.detach().float().cpu().tolist())
        result["grads"].append(
            {n: p.grad.detach().float().cpu().tolist() for n, p in model.named_parameters()}
        )
        graphs = compiled.last_report().cuda_graphs
        counts = graphs.counts() if graphs is not None else {}
        result["counts"].append({stage: attrs.asdict(c) for stage, c in counts.items()})
        outputs = _graph_output_addresses(compiled)
        result["grad_aliases"] |= any(p.grad.data_ptr() in outputs for p in model.parameters())
        optimizer.step()
    report = compiled.last_report()
    result["ir"] = {stage: str(module) for stage, module in report.modules.items()}
    if mesh is not None:
        import torch.distributed as dist

        result["process_group"] = str(dist.get_backend(mesh["dp"].get_group()))
    compiled.release_cuda_graphs()
    return result


def compare_pipelines(
    rank: int, world_size: int, names: list[str], steps: int, simulate: bool
) -> dict[str, dict[str, Any]]:
    """Each named case of ``CASES``: ``{"graphs": train(...), "reference": train(...)}``, or
    ``{"error": text}``."""
    if simulate:
        import ctc.cudagraphs
        from tests.cudagraph.simulated import SimulatedBackend

        ctc.cudagraphs.make_backend = SimulatedBackend
    device = torch.device("cuda", torch.cuda.current_device()) if not simulate else None
    device = device or torch.device("cpu")
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        kind, pipeline, reference, bitwise = CASES[name]
        torch.use_deterministic_algorithms(bitwise)
        try:
            results[name] = {
                "graphs": train(kind, pipeline, device, steps),
                "reference": train(kind, reference, device, steps),
            }
        except Exception:  # reported by the test, with the traceback, for this case alone
            results[name] = {"error": traceback.format_exc()}
    return results
