"""Timing kernels alone, with torch only (no torchtitan, no ctc capture): what ``ctc calibrate``
measures on a CPU or a CUDA device.

Every kernel is called as the lowered step calls it (``torch.ops.aten.*`` on tensors of the
shapes, dtypes and layouts the IR gives, outside autograd) and timed over repeated calls: a
sample is ``count`` calls back to back, the result the median of the samples' per-call times.
On a CPU shared by several ranks every rank times the same kernel at the same time
(``Sync``: a barrier before each kernel, and one call count agreed by all), so the rates include
the cores being shared as they are in training. On CUDA, events time the calls.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import torch

from ctc.calibrate.shapes import AttentionShape, Workload
from ctc.schedule.cost import MatmulShape

TORCH_DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


@attrs.frozen
class Settings:
    """How long to time each kernel: ``samples`` samples of about ``sample_s`` seconds."""

    samples: int = 5
    sample_s: float = 0.04
    warmup: int = 2


@attrs.frozen
class Sync:
    """Keeps ranks in step: ``barrier()`` before a kernel, ``agree(count)`` -> the count all use
    (the largest any rank asked for). One process: both do nothing."""

    barrier: Callable[[], None] = lambda: None
    agree: Callable[[int], int] = lambda count: count


@attrs.define
class Timer:
    device: str
    settings: Settings
    sync: Sync = attrs.field(factory=Sync)

    def seconds(self, call: Callable[[], Any]) -> float:
        """Median seconds per call of ``call`` (see the module docstring)."""
        self.sync.barrier()
        for _ in range(self.settings.warmup):
            call()
        self._wait()
        began = time.perf_counter()
        call()
        self._wait()
        once = max(time.perf_counter() - began, 1e-7)
        count = self.sync.agree(max(1, min(10_000, round(self.settings.sample_s / once))))
        per_call = []
        for _ in range(self.settings.samples):
            per_call.append(self._sample(call, count) / count)
        return statistics.median(per_call)

    def _sample(self, call: Callable[[], Any], count: int) -> float:
        if self.device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(count):
                call()
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end)) / 1e3
        began = time.perf_counter()
        for _ in range(count):
            call()
        return time.perf_counter() - began

    def _wait(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()


def _matrix(rows: int, cols: int, transposed: bool, batch: int, dtype: str, device: str) -> Any:
    """A ``[batch,] rows x cols`` operand, stored column-major when ``transposed``."""
    shape: tuple[int, ...] = (cols, rows) if transposed else (rows, cols)
    if batch > 1:
        shape = (batch, *shape)
    data = torch.rand(shape, device=device).mul_(2).sub_(1).to(TORCH_DTYPES[dtype])
    return data.transpose(-1, -2) if transposed else data


def time_matmul(timer: Timer, shape: MatmulShape) -> float:
    """Seconds per call of the matmul (``aten.mm``, or ``aten.bmm`` when batched)."""
    left = _matrix(shape.m, shape.k, shape.layout[0] == "t", shape.batch, shape.dtype, timer.device)
    right = _matrix(
        shape.k, shape.n, shape.layout[1] == "t", shape.batch, shape.dtype, timer.device
    )
    op = torch.ops.aten.bmm.default if shape.batch > 1 else torch.ops.aten.mm.default
    return timer.seconds(lambda: op(left, right))


def time_attention(timer: Timer, shape: AttentionShape) -> tuple[float, float]:
    """(forward, backward) seconds of scaled dot-product attention: the forward alone, and the
    backward as (forward + backward) minus the forward."""
    device, dtype = timer.device, TORCH_DTYPES[shape.dtype]

    def operand(heads: int, seq: int, dim: int) -> Any:
        # [batch, seq, heads, dim] transposed to [batch, heads, seq, dim], as captured.
        data = torch.rand((shape.batch, seq, heads, dim), device=device).sub_(0.5).to(dtype)
        return data.transpose(1, 2)

    query = operand(shape.heads, shape.q_seq, shape.qk_dim)
    key = operand(shape.kv_heads, shape.kv_seq, shape.qk_dim)
    value = operand(shape.kv_heads, shape.kv_seq, shape.v_dim)
    grouped = shape.kv_heads != shape.heads
    attention = torch.nn.functional.scaled_dot_product_attention

    def forward() -> Any:
        return attention(query, key, value, is_causal=shape.causal, enable_gqa=grouped)

    leaves = [t.detach().requires_grad_(True) for t in (query, key, value)]
    grad = torch.rand_like(forward())

    def forward_backward() -> None:
        out = attention(leaves[0], leaves[1], leaves[2], is_causal=shape.causal, enable_gqa=grouped)
        out.backward(grad)

    with torch.no_grad():
        forward_s = timer.seconds(forward)
    both_s = timer.seconds(forward_backward)
    return forward_s, max(both_s - forward_s, 0.0)


def _elements(size_bytes: int, bytes_per_element: int) -> int:
    return max(1, size_bytes // bytes_per_element)


# Memory-bound kernels: name -> (bytes read + written per element, make the call for n elements).
def _memory_kernels(device: str) -> dict[str, tuple[int, Callable[[int], Callable[[], Any]]]]:
    aten = torch.ops.aten

    def binary(op: Any) -> Callable[[int], Callable[[], Any]]:
        def make(n: int) -> Callable[[], Any]:
            a, b = torch.rand(n, device=device), torch.rand(n, device=device)
            return lambda: op(a, b)

        return make

    def unary(op: Any, **kwargs: Any) -> Callable[[int], Callable[[], Any]]:
        def make(n: int) -> Callable[[], Any]:
            a = torch.rand(n, device=device)
            return lambda: op(a, **kwargs)

        return make

    def row_mean(n: int) -> Callable[[], Any]:
        a = torch.rand((max(1, n // 256), 256), device=device)
        return lambda: aten.mean.dim(a, [-1], True)

    return {
        "add": (12, binary(aten.add.Tensor)),
        "mul": (12, binary(aten.mul.Tensor)),
        "to_bf16": (6, unary(aten._to_copy.default, dtype=torch.bfloat16)),
        "silu": (8, unary(aten.silu.default)),
        "row_mean": (4, row_mean),
    }


def time_memory_bound(timer: Timer, sizes: Sequence[int]) -> list[tuple[str, int, float]]:
    """(kernel, bytes moved, seconds) for each memory-bound kernel at each size."""
    samples = []
    for name, (per_element, make) in _memory_kernels(timer.device).items():
        for size in sizes:
            n = _elements(size, per_element)
            samples.append((name, n * per_element, timer.seconds(make(n))))
    return samples


def time_overheads(timer: Timer) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per call of tiny kernels (the per-kernel overhead) and of view ops."""
    aten = torch.ops.aten
    tiny = torch.rand(8, device=timer.device)
    matrix = torch.rand((2, 4), device=timer.device)
    kernels = {
        "add": lambda: aten.add.Tensor(tiny, tiny),
        "mul": lambda: aten.mul.Tensor(tiny, tiny),
        "neg": lambda: aten.neg.default(tiny),
        "to_bf16": lambda: aten._to_copy.default(tiny, dtype=torch.bfloat16),
        "sum": lambda: aten.sum.default(tiny),
    }
    views = {
        "view": lambda: aten.view.default(tiny, [2, 4]),
        "t": lambda: aten.t.default(matrix),
        "permute": lambda: aten.permute.default(matrix, [1, 0]),
        "slice": lambda: aten.slice.Tensor(matrix, 1, 0, 2),
        "transpose": lambda: aten.transpose.int(matrix, 0, 1),
        "unsqueeze": lambda: aten.unsqueeze.default(tiny, 0),
    }
    return (
        {name: timer.seconds(call) for name, call in kernels.items()},
        {name: timer.seconds(call) for name, call in views.items()},
    )


@attrs.frozen
class ComputeTimes:
    """What ``measure_compute`` found (seconds per call)."""

    kernels: dict[str, float]
    views: dict[str, float]
    matmuls: tuple[tuple[MatmulShape, float], ...]
    attentions: tuple[tuple[AttentionShape, float, float], ...]
    memory: tuple[tuple[str, int, float], ...]


def measure_compute(
    timer: Timer, workload: Workload, progress: Callable[[str], None]
) -> ComputeTimes:
    """Times every kernel of ``workload`` and the overheads, reporting each as it goes."""
    with torch.no_grad():
        kernels, views = time_overheads(timer)
        progress(
            f"overheads: kernel {statistics.median(kernels.values()) * 1e6:.1f} us, "
            f"view {statistics.median(views.values()) * 1e6:.1f} us"
        )
        matmuls = []
        for index, shape in enumerate(workload.matmuls, 1):
            seconds = time_matmul(timer, shape)
            matmuls.append((shape, seconds))
            flops = 2 * shape.batch * shape.m * shape.k * shape.n
            progress(
                f"matmul {index}/{len(workload.matmuls)} {shape.dtype} "
                f"{shape.batch}x{shape.m}x{shape.k}x{shape.n} {shape.layout}: "
                f"{seconds * 1e6:.1f} us ({flops / seconds / 1e9:.2f} GFLOP/s)"
            )
        memory = time_memory_bound(timer, workload.memory_bytes)
        moved = sum(b for _, b, _ in memory)
        progress(
            f"memory-bound: {len(memory)} samples, {moved / sum(s for *_, s in memory) / 1e9:.2f} "
            "GB/s overall"
        )
    attentions = []
    for attention in workload.attentions:
        forward_s, backward_s = time_attention(timer, attention)
        attentions.append((attention, forward_s, backward_s))
        progress(
            f"attention {attention.dtype} b{attention.batch} h{attention.heads} "
            f"s{attention.q_seq} d{attention.qk_dim}: forward {forward_s * 1e6:.0f} us, "
            f"backward {backward_s * 1e6:.0f} us"
        )
    return ComputeTimes(kernels, views, tuple(matmuls), tuple(attentions), tuple(memory))
