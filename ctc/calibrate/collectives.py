"""Timing gloo collectives between real processes, as the lowered step issues them
(``torch.ops._c10d_functional``: issue, then ``wait_tensor``).

The ranks of a training step on a shared CPU compute between collectives, so a collective's
cost is what it adds to a loop that computes: every rank runs ``burst`` (a matmul loop of about
``burst_s`` seconds) then the collective and its wait, and the same loop without the collective;
the difference per iteration is the collective's time, including the wait for the group's other
ranks as the operating system schedules them. The time the issuing call itself takes is measured
apart (the compute stream pays it). Groups are the contiguous blocks of ``size`` ranks
(``dist.new_subgroups``), all busy at once, as a mesh dimension's groups are in a step.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import torch
import torch.distributed as dist

from ctc.calibrate.measure import Settings
from ctc.ir.ops import (
    AllGatherOp,
    AllReduceOp,
    AllToAllOp,
    CollectiveOp,
    ReduceScatterOp,
    WaitOp,
    op_class,
    torch_collective,
)

KINDS: tuple[type[CollectiveOp], ...] = (AllGatherOp, ReduceScatterOp, AllReduceOp, AllToAllOp)


@attrs.frozen
class CollectiveSample:
    """One collective kind (its IR op name) on a group of ``ranks`` over a ``buffer_bytes``
    buffer (the gathered output, or the reduced or exchanged input): ``seconds`` on its stream,
    ``issue_s`` on the issuing rank's compute stream."""

    kind: str
    ranks: int
    buffer_bytes: int
    seconds: float
    issue_s: float

    @property
    def op_class(self) -> type[CollectiveOp]:
        cls = op_class(self.kind)
        assert cls is not None and issubclass(cls, CollectiveOp)
        return cls


def _functional(cls: type[CollectiveOp | WaitOp]) -> Any:
    """The torch functional collective that ``cls`` lowers to."""
    name = torch_collective(cls)
    assert name is not None
    return getattr(torch.ops._c10d_functional, name).default


def _issue(cls: type[CollectiveOp], buffer: Any, ranks: int, group_name: str) -> Any:
    call = _functional(cls)
    if cls is AllGatherOp:
        return call(buffer, ranks, group_name)
    if cls is ReduceScatterOp:
        return call(buffer, "sum", ranks, group_name)
    if cls is AllReduceOp:
        return call(buffer, "sum", group_name)
    splits = [buffer.shape[0] // ranks] * ranks
    return call(buffer, splits, splits, group_name)


def _input(cls: type[CollectiveOp], buffer_bytes: int, ranks: int) -> Any:
    elements = max(ranks, buffer_bytes // 4 // ranks * ranks)
    if cls is AllGatherOp:
        elements //= ranks
    return torch.rand(elements)


@attrs.define
class Burst:
    """A matmul loop of about ``seconds`` on this rank while every rank runs it."""

    seconds: float
    calls: int = 1
    left: Any = attrs.field(factory=lambda: torch.rand(64, 64))

    def __call__(self) -> None:
        for _ in range(self.calls):
            torch.mm(self.left, self.left)

    def tune(self, agree: Callable[[int], int]) -> None:
        dist.barrier()
        began = time.perf_counter()
        for _ in range(50):
            torch.mm(self.left, self.left)
        once = (time.perf_counter() - began) / 50
        self.calls = agree(max(1, round(self.seconds / once)))


def _loop_seconds(iterations: int, body: Callable[[], None]) -> float:
    dist.barrier()
    began = time.perf_counter()
    for _ in range(iterations):
        body()
    return (time.perf_counter() - began) / iterations


def time_collective(
    kind: type[CollectiveOp],
    ranks: int,
    buffer_bytes: int,
    group_name: str,
    burst: Burst,
    settings: Settings,
    iterations: int,
) -> CollectiveSample:
    """One sample (see the module docstring); every rank of the world must call it alike."""
    buffer = _input(kind, buffer_bytes, ranks)
    issue_times: list[float] = []
    wait = _functional(WaitOp)

    def with_collective() -> None:
        burst()
        began = time.perf_counter()
        work = _issue(kind, buffer, ranks, group_name)
        issue_times.append(time.perf_counter() - began)
        wait(work)

    for _ in range(settings.warmup):
        with_collective()
    differences = []
    for _ in range(settings.samples):
        alone = _loop_seconds(iterations, burst)
        together = _loop_seconds(iterations, with_collective)
        differences.append(max(0.0, together - alone))
    return CollectiveSample(
        kind.OP_NAME,
        ranks,
        buffer_bytes,
        statistics.median(differences),
        statistics.median(issue_times),
    )


def group_sizes(world_size: int) -> list[int]:
    """The group sizes a mesh over ``world_size`` ranks can have (divisors above 1)."""
    return [size for size in range(2, world_size + 1) if world_size % size == 0]


def measure_collectives(
    world_size: int,
    sizes: Sequence[int],
    settings: Settings,
    burst_s: float,
    agree: Callable[[int], int],
    progress: Callable[[str], None],
) -> list[CollectiveSample]:
    """Samples of every kind, group size and buffer size (run on every rank of the world)."""
    burst = Burst(burst_s)
    burst.tune(agree)
    iterations = agree(max(3, round(settings.sample_s / burst_s)))
    samples = []
    for ranks in group_sizes(world_size):
        group, _ = dist.new_subgroups(group_size=ranks)
        name = group.group_name
        for kind in KINDS:
            for size in sizes:
                sample = time_collective(kind, ranks, size, name, burst, settings, iterations)
                samples.append(sample)
                progress(
                    f"{kind.OP_NAME} on {ranks} ranks, {size} bytes: {sample.seconds * 1e6:.0f} us "
                    f"(issue {sample.issue_s * 1e6:.0f} us)"
                )
    return samples
