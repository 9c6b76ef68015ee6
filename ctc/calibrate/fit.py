"""From measured times to device profile fields: the cost model's formulas solved for their
parameters. Torch-free.

- per-kernel overhead: the median time of tiny kernels; view overhead: of view ops;
- a matmul's rate: its FLOPs over its time less the per-kernel overhead (the cost model adds
  that back), one ``ctc.schedule.rates`` entry per shape; the dtype's peak is the best measured;
- attention: the cost model's attention FLOPs over the time less the overhead (median over
  shapes), forward and backward apart;
- memory bandwidth: least squares through the origin of (bytes moved, time less the overhead)
  over the memory-bound kernels and sizes;
- collectives: non-negative least squares of ``latency + steps x hop + wire bytes / bandwidth``
  (``ctc.schedule.cost.ring_steps_and_bytes``'s conventions) over every kind, group size and
  buffer size; the issue overhead is the median issuing time.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence

import attrs

from ctc.calibrate.shapes import AttentionShape
from ctc.ir.ops import AllReduceOp, CollectiveOp
from ctc.schedule.cost import ATTENTION_BACKWARD_FACTOR, MatmulShape
from ctc.schedule.rates import MatmulRate

# A kernel's time less the overhead is never taken below this share of its time: a kernel
# measured at about the overhead still gets a finite, plausible rate.
MIN_WORK_SHARE = 0.1
# Bandwidth when the fit finds transfers free (a positive, finite profile value).
UNMEASURABLE_BANDWIDTH = 1e15


def _work(seconds: float, overhead: float) -> float:
    return max(seconds - overhead, MIN_WORK_SHARE * seconds, 1e-12)


def matmul_rates(
    samples: Sequence[tuple[MatmulShape, float]], overhead: float
) -> tuple[MatmulRate, ...]:
    rates = []
    for shape, seconds in samples:
        flops = 2 * shape.batch * shape.m * shape.k * shape.n
        rates.append(
            MatmulRate(
                shape.dtype,
                shape.m,
                shape.k,
                shape.n,
                flops / _work(seconds, overhead),
                shape.layout,
                shape.batch,
            )
        )
    return tuple(rates)


def attention_rates(
    samples: Sequence[tuple[AttentionShape, float, float]], overhead: float
) -> tuple[float | None, float | None]:
    """(forward, backward) FLOP/s, the median over shapes; None without samples."""
    if not samples:
        return None, None
    forward = [shape.flops / _work(f, overhead) for shape, f, _ in samples]
    backward = [
        shape.flops * ATTENTION_BACKWARD_FACTOR / _work(b, overhead) for shape, _, b in samples
    ]
    return statistics.median(forward), statistics.median(backward)


def memory_bandwidth(samples: Sequence[tuple[str, int, float]], overhead: float) -> float | None:
    """Bytes/s through the origin of (bytes, seconds - overhead); None without samples."""
    if not samples:
        return None
    numerator = sum(float(moved) ** 2 for _, moved, _ in samples)
    denominator = sum(moved * max(seconds - overhead, 0.0) for _, moved, seconds in samples)
    if denominator <= 0:
        return UNMEASURABLE_BANDWIDTH
    return numerator / denominator


def _solve(rows: Sequence[Sequence[float]], targets: Sequence[float]) -> list[float] | None:
    """Least squares by the normal equations (Gaussian elimination); None when singular."""
    size = len(rows[0])
    matrix = [[sum(r[i] * r[j] for r in rows) for j in range(size)] for i in range(size)]
    vector = [sum(r[i] * t for r, t in zip(rows, targets, strict=True)) for i in range(size)]
    for column in range(size):
        pivot = max(range(column, size), key=lambda r: abs(matrix[r][column]))
        if abs(matrix[pivot][column]) < 1e-30:
            return None
        matrix[column], matrix[pivot] = matrix[pivot], matrix[column]
        vector[column], vector[pivot] = vector[pivot], vector[column]
        for row in range(size):
            if row != column:
                factor = matrix[row][column] / matrix[column][column]
                matrix[row] = [
                    a - factor * b for a, b in zip(matrix[row], matrix[column], strict=True)
                ]
                vector[row] -= factor * vector[column]
    return [vector[i] / matrix[i][i] for i in range(size)]


def nonnegative_least_squares(
    rows: Sequence[Sequence[float]], targets: Sequence[float]
) -> list[float]:
    """argmin |rows x - targets| with x >= 0, over every subset of free variables (few)."""
    size = len(rows[0])
    best: tuple[float, list[float]] = (float("inf"), [0.0] * size)
    scales = [max((abs(r[i]) for r in rows), default=1.0) or 1.0 for i in range(size)]
    scaled = [[r[i] / scales[i] for i in range(size)] for r in rows]
    for count in range(size + 1):
        for free in itertools.combinations(range(size), count):
            solution = [0.0] * size
            if free:
                part = _solve([[r[i] for i in free] for r in scaled], targets)
                if part is None or any(value < 0 for value in part):
                    continue
                for index, value in zip(free, part, strict=True):
                    solution[index] = value
            residual = sum(
                (sum(r[i] * solution[i] for i in range(size)) - t) ** 2
                for r, t in zip(scaled, targets, strict=True)
            )
            if residual < best[0]:
                best = (residual, solution)
    return [value / scale for value, scale in zip(best[1], scales, strict=True)]


def ring_terms(kind: type[CollectiveOp], ranks: int, buffer_bytes: int) -> tuple[int, float]:
    """(ring steps, bus bytes) of a collective, as ``ctc.schedule.cost.ring_steps_and_bytes``."""
    fraction = (ranks - 1) / ranks
    if kind is AllReduceOp:
        return 2 * (ranks - 1), 2 * buffer_bytes * fraction
    return ranks - 1, buffer_bytes * fraction


@attrs.frozen
class LinkFit:
    latency: float
    hop_latency: float
    bandwidth: float
    worst_error: float  # largest |fit - measured| / measured over the samples


def fit_link(samples: Sequence[tuple[type[CollectiveOp], int, int, float]]) -> LinkFit:
    """Fits (kind, ranks, buffer bytes, seconds) samples to the ring formula."""
    rows, targets = [], []
    for kind, ranks, buffer_bytes, seconds in samples:
        steps, wire = ring_terms(kind, ranks, buffer_bytes)
        rows.append([1.0, float(steps), wire])
        targets.append(seconds)
    latency, hop, inverse_bandwidth = nonnegative_least_squares(rows, targets)
    bandwidth = 1 / inverse_bandwidth if inverse_bandwidth > 0 else UNMEASURABLE_BANDWIDTH
    errors = [
        abs(latency + hop * r[1] + r[2] * inverse_bandwidth - t) / t
        for r, t in zip(rows, targets, strict=True)
        if t > 0
    ]
    return LinkFit(latency, hop, bandwidth, max(errors, default=0.0))
