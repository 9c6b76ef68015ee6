"""The measuring half of ``bench/validate.py``: one launch of real gloo ranks that compiles a
model's training step through ``ctc.compile`` with every pipeline and times them in turn.

Each rank builds the torchtitan model (``ctc.models.torchtitan.build_step``, real weights), makes
one ``ctc.compile`` per pipeline over the same parameters, runs ``warmup`` untimed steps of each,
then ``steps`` rounds in which every pipeline runs one timed step (so a change in the machine's
load hits every pipeline alike). A timed step is ``loss = compiled(*inputs); loss.backward()``
after a barrier, with the gradients already cleared; no optimizer step (the simulator does not
model one). Rank 0 returns each pipeline's IR (``@joint`` after the joint passes, ``@fwd`` and
``@bwd`` as compiled) for the simulator, and, with ``attribute``, where one more step of each
pipeline spends its time by torch's profiler.
"""

from __future__ import annotations

import time
from typing import Any

import attrs

# Pipelines by short name, as the table shows them.
PIPELINES = {
    "none": "",
    "block": "bucket(block)",
    "auto": "bucket(auto)",
    "tp_overlap": "tp_overlap(chunks=2)",
}


@attrs.frozen
class Job:
    model: str
    flavor: str
    mesh: str
    seq_len: int
    batch: int
    pipelines: tuple[str, ...]
    steps: int
    warmup: int
    attribute: bool
    device_profile: str | None = None  # for bucket(auto)'s decisions


def pipeline_text(name: str, device_profile: str | None) -> str:
    text = PIPELINES[name]
    if name == "auto" and device_profile is not None:
        return f'bucket(auto, device="{device_profile}")'
    return text


def _say(rank: int, message: str) -> None:
    if rank == 0:
        print(f"validate: {message}", flush=True)


# Profiler event names -> the cost model's kinds (first match wins).
KINDS = (
    ("wait", ("wait_tensor",)),
    (
        "collective issue",
        ("c10d", "_c10d_functional", "allgather", "reduce_scatter", "allreduce", "alltoall"),
    ),
    ("matmul", ("aten::mm", "aten::bmm", "aten::addmm", "aten::_grouped_mm")),
    ("attention", ("attention",)),
    (
        "view",
        (
            "aten::view",
            "aten::_unsafe_view",
            "aten::t",
            "aten::permute",
            "aten::transpose",
            "aten::slice",
            "aten::as_strided",
            "aten::select",
            "aten::unsqueeze",
            "aten::squeeze",
            "aten::expand",
            "aten::split",
            "aten::alias",
            "aten::detach",
            "aten::narrow",
            "aten::view_as_real",
            "aten::view_as_complex",
            "aten::unbind",
        ),
    ),
)


def kind_of(name: str) -> str:
    for kind, patterns in KINDS:
        if kind == "view":
            if name in patterns:
                return kind
        elif any(pattern in name for pattern in patterns):
            return kind
    return "other kernels" if name.startswith("aten::") else "runtime"


def _timed_step(compiled: Any, parameters: list[Any], inputs: tuple[Any, dict[str, Any]]) -> float:
    import torch.distributed as dist

    for parameter in parameters:
        parameter.grad = None
    dist.barrier()
    began = time.perf_counter()
    loss = compiled(*inputs[0], **inputs[1])
    loss.backward()
    return time.perf_counter() - began


def _attribute(compiled: Any, parameters: list[Any], inputs: Any, rank: int) -> dict[str, float]:
    """Self CPU milliseconds of one profiled step by kind (rank 0), and the step itself."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        seconds = _timed_step(compiled, parameters, inputs)
    if rank != 0:
        return {}
    totals: dict[str, float] = {"step": seconds * 1e3}
    for event in prof.key_averages():
        kind = kind_of(event.key)
        totals[kind] = totals.get(kind, 0.0) + event.self_cpu_time_total / 1e3
    return totals


def measure_rank(rank: int, world_size: int, job: Job) -> dict[str, Any]:
    import torch

    import ctc
    from ctc.ir import print_module
    from ctc.models.torchtitan import build_step

    torch.use_deterministic_algorithms(True)
    built = build_step(
        job.model, job.flavor, job.mesh, batch=job.batch, seq_len=job.seq_len, fake=False, seed=0
    )
    model = built.module
    parameters = list(model.parameters())
    inputs = (built.args, built.kwargs)
    compiled = {}
    for name in job.pipelines:
        _say(rank, f"{job.model} on {job.mesh}: compiling '{name}'")
        began = time.perf_counter()
        step = ctc.compile(
            model,
            pipeline=pipeline_text(name, job.device_profile),
            mesh=built.layout,
            device="cpu",
        )
        for _ in range(job.warmup):
            _timed_step(step, parameters, inputs)
        _say(rank, f"  compiled and warmed up in {time.perf_counter() - began:.0f} s")
        compiled[name] = step
    times: dict[str, list[float]] = {name: [] for name in job.pipelines}
    for round_number in range(job.steps):
        for name in job.pipelines:
            times[name].append(_timed_step(compiled[name], parameters, inputs))
        shown = ", ".join(f"{n} {times[n][-1] * 1e3:.0f} ms" for n in job.pipelines)
        _say(rank, f"  round {round_number + 1}/{job.steps}: {shown}")
    attribution = {}
    if job.attribute:
        for name in job.pipelines:
            attribution[name] = _attribute(compiled[name], parameters, inputs, rank)
    modules = {}
    if rank == 0:
        modules = {
            name: {stage: print_module(m) for stage, m in step.last_report().modules.items()}
            for name, step in compiled.items()
        }
    return {"times": times, "modules": modules, "attribution": attribution}
