"""The fits that turn ``ctc calibrate``'s timings into profile fields recover the parameters
of the cost model's own formulas from samples made with them."""

from __future__ import annotations

import pytest

from ctc.calibrate.fit import (
    attention_rates,
    fit_link,
    matmul_rates,
    memory_bandwidth,
    nonnegative_least_squares,
    ring_terms,
)
from ctc.calibrate.shapes import AttentionShape
from ctc.ir import make_op, tensor
from ctc.ir.core import Value
from ctc.ir.ops import AllGatherOp, AllReduceOp, CollectiveOp, ReduceScatterOp
from ctc.schedule.cost import MatmulShape, ring_steps_and_bytes


def test_ring_terms_follow_the_cost_model() -> None:
    for kind, out_elements in ((AllGatherOp, 4096), (ReduceScatterOp, 1024), (AllReduceOp, 4096)):
        attributes: dict[str, object] = {"group": "dp", "size": 4}
        if kind is not AllGatherOp:
            attributes["reduce_op"] = "sum"
        if kind is not AllReduceOp:
            attributes["dim"] = 0
        source = 1024 if kind is AllGatherOp else 4096
        op = make_op(
            kind.OP_NAME,
            [Value("x", tensor("f32", source))],
            [Value("y", tensor("f32", out_elements))],
            attributes,
        )
        assert isinstance(op, CollectiveOp)
        assert ring_terms(kind, 4, 4096 * 4) == ring_steps_and_bytes(op)


def test_link_parameters_are_recovered_from_exact_samples() -> None:
    latency, hop, bandwidth = 80e-6, 30e-6, 2.5e9
    samples = []
    for kind in (AllGatherOp, ReduceScatterOp, AllReduceOp):
        for ranks in (2, 4, 8):
            for size in (1024, 65536, 2**21):
                steps, wire = ring_terms(kind, ranks, size)
                samples.append((kind, ranks, size, latency + steps * hop + wire / bandwidth))
    fit = fit_link(samples)
    assert fit.latency == pytest.approx(latency, rel=1e-6)
    assert fit.hop_latency == pytest.approx(hop, rel=1e-6)
    assert fit.bandwidth == pytest.approx(bandwidth, rel=1e-6)
    assert fit.worst_error < 1e-6


def test_link_fit_never_goes_negative() -> None:
    # Larger groups measured faster than small ones: the best non-negative hop is zero.
    samples = [(AllGatherOp, 2, 1024, 200e-6), (AllGatherOp, 8, 1024, 100e-6)]
    fit = fit_link(samples)
    assert fit.hop_latency == 0.0 and fit.latency > 0 and fit.bandwidth > 0


def test_nonnegative_least_squares_on_a_small_system() -> None:
    rows = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
    assert nonnegative_least_squares(rows, [1.0, 2.0, 3.0]) == pytest.approx([1.0, 2.0])
    # Unconstrained: (1, -2); with x >= 0 the second is 0 and the first balances 1 and -1.
    assert nonnegative_least_squares(rows, [1.0, -2.0, -1.0]) == pytest.approx([0.0, 0.0])


def test_matmul_rates_leave_the_overhead_to_the_cost_model() -> None:
    shape = MatmulShape("bf16", 1, 64, 256, 384, "nt")
    flops = 2 * 64 * 256 * 384
    (rate,) = matmul_rates([(shape, 110e-6)], overhead=10e-6)
    assert (rate.dtype, rate.m, rate.k, rate.n, rate.layout) == ("bf16", 64, 256, 384, "nt")
    assert rate.rate == pytest.approx(flops / 100e-6)
    # A kernel timed at its overhead still gets a finite rate.
    (fast,) = matmul_rates([(shape, 10e-6)], overhead=10e-6)
    assert fast.rate == pytest.approx(flops / 1e-6)


def test_attention_and_memory_rates() -> None:
    shape = AttentionShape("bf16", 1, 8, 8, 64, 64, 16, 16, True)
    forward, backward = attention_rates([(shape, 60e-6, 110e-6)], overhead=10e-6)
    assert forward == pytest.approx(shape.flops / 50e-6)
    assert backward == pytest.approx(shape.flops * 2.5 / 100e-6)
    assert attention_rates([], 0.0) == (None, None)
    samples = [("add", 1000, 10e-6 + 1000 / 2e9), ("mul", 4000, 10e-6 + 4000 / 2e9)]
    assert memory_bandwidth(samples, overhead=10e-6) == pytest.approx(2e9)
    assert memory_bandwidth([], 0.0) is None


def test_a_measured_sample_names_its_collective_class() -> None:
    """The fit prices a sample by its op class: an all-reduce has twice an all-gather's ring
    steps and bytes (a kind string in its place was priced as an all-gather)."""
    pytest.importorskip("torch")
    from ctc.calibrate.collectives import CollectiveSample

    sample = CollectiveSample("coll.all_reduce", 4, 4096, 1e-3, 1e-5)
    assert sample.op_class is AllReduceOp
    assert ring_terms(sample.op_class, 4, 4096) == (6, 6144.0)
