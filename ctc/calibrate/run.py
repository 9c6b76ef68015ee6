"""Calibrating a device profile: where the measurements run and how they become a profile.

CPU: ``ranks`` processes started by ``ctc.launch`` (gloo, the threads per rank training gets),
each timing every kernel at the same time as the others, then gloo collectives on every group
size a mesh over ``ranks`` can have; the median over ranks of each time is fitted
(``ctc.calibrate.fit``) into the ``cpu`` profile's fields. CUDA: this process times the same
compute kernels on the current GPU; the links keep the ``h100`` profile's numbers (one GPU has no
collectives to time). Imports torch, never torchtitan.
"""

from __future__ import annotations

import datetime
import os
import statistics
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from ctc.calibrate.fit import (
    LinkFit,
    attention_rates,
    fit_link,
    matmul_rates,
    memory_bandwidth,
)
from ctc.calibrate.shapes import Workload
from ctc.errors import CtcError
from ctc.schedule.profile import PROFILES, DeviceProfile

if TYPE_CHECKING:
    from ctc.calibrate.collectives import CollectiveSample

# Buffer sizes of the timed collectives (bytes): what the debug models and a layer of a larger
# model move per collective.
COLLECTIVE_SIZES = (1024, 16 * 1024, 256 * 1024, 2 * 2**20)
QUICK_COLLECTIVE_SIZES = (4096, 256 * 1024)
# Compute between two collectives in the timing loop (``ctc.calibrate.collectives``).
BURST_S = 0.002


@attrs.frozen
class Request:
    """What to calibrate."""

    device: str
    ranks: int
    workload: Workload
    quick: bool = False

    def settings(self) -> Any:
        from ctc.calibrate.measure import Settings

        return Settings(samples=3, sample_s=0.005, warmup=1) if self.quick else Settings()

    def collective_sizes(self) -> tuple[int, ...]:
        return QUICK_COLLECTIVE_SIZES if self.quick else COLLECTIVE_SIZES


@attrs.frozen
class Calibration:
    """A calibrated profile and what it was fitted from."""

    profile: DeviceProfile
    compute: Any  # ctc.calibrate.measure.ComputeTimes (median over ranks)
    collectives: tuple[Any, ...]  # ctc.calibrate.collectives.CollectiveSample
    link: LinkFit | None

    def summary(self) -> dict[str, Any]:
        """The measurements, as plain data (``ctc calibrate --json``)."""
        compute = self.compute
        return {
            "kernel_overhead_s": compute.kernels,
            "view_overhead_s": compute.views,
            "matmuls": [
                {**attrs.asdict(shape), "seconds": seconds} for shape, seconds in compute.matmuls
            ],
            "attention": [
                {**attrs.asdict(shape), "forward_s": f, "backward_s": b}
                for shape, f, b in compute.attentions
            ],
            "memory_bound": [
                {"kernel": name, "bytes": moved, "seconds": seconds}
                for name, moved, seconds in compute.memory
            ],
            "collectives": [attrs.asdict(sample) for sample in self.collectives],
            "link_fit": attrs.asdict(self.link) if self.link is not None else None,
        }


def _progress_in_rank(rank: int) -> Callable[[str], None]:
    def say(message: str) -> None:
        if rank == 0:
            print(f"ctc calibrate: {message}", file=sys.stderr, flush=True)

    return say


def calibrate_rank(rank: int, world_size: int, request: Request) -> tuple[Any, list[Any]]:
    """One CPU rank's measurements: compute, then collectives (every rank must run this)."""
    import torch
    import torch.distributed as dist

    from ctc.calibrate.collectives import measure_collectives
    from ctc.calibrate.measure import Sync, Timer, measure_compute

    def agree(count: int) -> int:
        tensor = torch.tensor([count], dtype=torch.int64)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return int(tensor.item())

    say = _progress_in_rank(rank)
    say(f"rank 0 of {world_size} on {torch.get_num_threads()} thread(s): timing compute")
    timer = Timer("cpu", request.settings(), Sync(dist.barrier, agree))
    compute = measure_compute(timer, request.workload, say)
    samples = []
    if world_size > 1:
        say("timing gloo collectives")
        samples = measure_collectives(
            world_size, request.collective_sizes(), request.settings(), BURST_S, agree, say
        )
    return compute, samples


def _median_over_ranks(per_rank: Sequence[Any]) -> Any:
    """One ComputeTimes whose every time is the median of the ranks' times."""
    first = per_rank[0]

    def median(values: Sequence[float]) -> float:
        return statistics.median(values)

    return attrs.evolve(
        first,
        kernels={k: median([r.kernels[k] for r in per_rank]) for k in first.kernels},
        views={k: median([r.views[k] for r in per_rank]) for k in first.views},
        matmuls=tuple(
            (shape, median([r.matmuls[i][1] for r in per_rank]))
            for i, (shape, _) in enumerate(first.matmuls)
        ),
        attentions=tuple(
            (
                shape,
                median([r.attentions[i][1] for r in per_rank]),
                median([r.attentions[i][2] for r in per_rank]),
            )
            for i, (shape, _, _) in enumerate(first.attentions)
        ),
        memory=tuple(
            (name, moved, median([r.memory[i][2] for r in per_rank]))
            for i, (name, moved, _) in enumerate(first.memory)
        ),
    )


def _median_samples(per_rank: Sequence[Sequence[Any]]) -> tuple[Any, ...]:
    first = per_rank[0]
    return tuple(
        attrs.evolve(
            sample,
            seconds=statistics.median([r[i].seconds for r in per_rank]),
            issue_s=statistics.median([r[i].issue_s for r in per_rank]),
        )
        for i, sample in enumerate(first)
    )


def build_profile(
    request: Request, compute: Any, collectives: Sequence[CollectiveSample], source: str
) -> tuple[DeviceProfile, LinkFit | None]:
    """The profile the measurements give (``ctc.calibrate.fit``)."""
    kernel_overhead = statistics.median(compute.kernels.values())
    rates = matmul_rates(compute.matmuls, kernel_overhead)
    forward, backward = attention_rates(compute.attentions, kernel_overhead)
    bandwidth = memory_bandwidth(compute.memory, kernel_overhead)
    base = PROFILES["cpu" if request.device == "cpu" else "h100"]
    fields: dict[str, Any] = {
        "name": f"{request.device}-calibrated-{request.ranks}proc",
        "matmul_efficiency": 1.0,
        "memory_efficiency": 1.0,
        "kernel_overhead": kernel_overhead,
        "view_overhead": statistics.median(compute.views.values()),
        "matmul_rates": rates,
        "attention_rate": forward,
        "attention_backward_rate": backward,
        "calibrated_processes": request.ranks,
        "source": source,
    }
    for dtype, field in (("f32", "flops_f32"), ("bf16", "flops_bf16")):
        measured = [rate.rate for rate in rates if rate.dtype == dtype]
        if measured:
            fields[field] = max(measured)
    if bandwidth is not None:
        fields["memory_bandwidth"] = bandwidth
    link = None
    if collectives:
        link = fit_link(
            [(s.op_class, s.ranks, s.buffer_bytes, s.seconds - s.issue_s) for s in collectives]
        )
        fields.update(
            intra_node_latency=link.latency,
            intra_node_hop_latency=link.hop_latency,
            intra_node_bandwidth=link.bandwidth,
            inter_node_latency=link.latency,
            inter_node_hop_latency=link.hop_latency,
            inter_node_bandwidth=link.bandwidth,
            collective_issue_overhead=statistics.median(s.issue_s for s in collectives),
        )
    if request.device == "cpu":
        fields["memory_bytes"] = _memory_per_rank(request.ranks)
    return attrs.evolve(base, **fields), link


def _memory_per_rank(ranks: int) -> int:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return PROFILES["cpu"].memory_bytes
    return max(1, total // ranks)


def _source(request: Request) -> str:
    import torch

    today = datetime.date.today().isoformat()
    where = f"{os.cpu_count()} cores" if request.device == "cpu" else _gpu_name()
    mode = ", quick" if request.quick else ""
    return (
        f"ctc calibrate --device {request.device} --ranks {request.ranks}{mode}: {where}, "
        f"torch {torch.__version__}, {today}"
    )


def _gpu_name() -> str:
    import torch

    return str(torch.cuda.get_device_name())


def calibrate(request: Request, rank_timeout_s: float) -> Calibration:
    """Measures (see the module docstring) and fits the profile."""
    if request.device == "cuda":
        return _calibrate_cuda(request)
    from ctc.launch import run_on_ranks

    per_rank = run_on_ranks(calibrate_rank, request.ranks, request, rank_timeout_s=rank_timeout_s)
    compute = _median_over_ranks([times for times, _ in per_rank])
    samples = _median_samples([rank_samples for _, rank_samples in per_rank])
    profile, link = build_profile(request, compute, samples, _source(request))
    return Calibration(profile, compute, samples, link)


def _calibrate_cuda(request: Request) -> Calibration:
    import torch

    from ctc.calibrate.measure import Timer, measure_compute

    if not torch.cuda.is_available():
        raise CtcError("--device cuda: torch sees no CUDA device on this machine")

    def say(message: str) -> None:
        print(f"ctc calibrate: {message}", file=sys.stderr, flush=True)

    say(f"timing compute on {_gpu_name()}")
    compute = measure_compute(Timer("cuda", request.settings()), request.workload, say)
    profile, _ = build_profile(request, compute, (), _source(request))
    profile = attrs.evolve(profile, memory_bytes=torch.cuda.get_device_properties(0).total_memory)
    return Calibration(profile, compute, (), None)
