"""What a calibrated profile changes in the cost model: matmuls priced at the rate of the nearest
measured shape, attention at its measured rates, views and collective issue at their measured
host times; built-in profiles price as before."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from ctc.ir import Value, make_op, parse_module, tensor
from ctc.schedule.cost import CostModel, matmul_shape
from ctc.schedule.profile import PROFILES, DeviceProfile
from ctc.schedule.rates import MatmulRate, nearest_rate
from ctc.schedule.simulate import simulate_module

OVERHEAD = 10e-6


def _profile(**fields: Any) -> DeviceProfile:
    return attrs.evolve(PROFILES["cpu"], kernel_overhead=OVERHEAD, **fields)


def _mm(m: int, k: int, n: int, dtype: str = "f32", transposed_right: bool = True) -> object:
    left = Value("a", tensor(dtype, m, k))
    strides = (1, k) if transposed_right else None
    right = Value("b", tensor(dtype, k, n, strides=strides))
    return make_op("aten.mm.default", [left, right], [Value("y", tensor(dtype, m, n))])


def test_matmul_shape_reads_dims_dtype_and_layout() -> None:
    shape = matmul_shape(_mm(64, 256, 384, "bf16"))  # type: ignore[arg-type]
    assert shape is not None
    assert (shape.dtype, shape.batch, shape.m, shape.k, shape.n) == ("bf16", 1, 64, 256, 384)
    assert shape.layout == "nt"
    plain = matmul_shape(_mm(8, 4, 2, transposed_right=False))  # type: ignore[arg-type]
    assert plain is not None and plain.layout == "nn"
    add = make_op("aten.add.Tensor", [Value("a", tensor("f32", 4))], [Value("y", tensor("f32", 4))])
    assert matmul_shape(add) is None


def test_nearest_rate_prefers_same_dtype_then_shape_then_layout() -> None:
    table = (
        MatmulRate("f32", 64, 256, 256, 1e10, "nt"),
        MatmulRate("f32", 1024, 256, 256, 5e10, "nt"),
        MatmulRate("bf16", 64, 256, 256, 9e10, "nt"),
    )
    assert nearest_rate(table, "f32", 1, 64, 256, 256, "nt") == 1e10
    assert nearest_rate(table, "f32", 1, 900, 256, 256, "nt") == 5e10
    assert nearest_rate(table, "bf16", 1, 900, 256, 256, "nn") == 9e10
    assert nearest_rate(table, "f16", 1, 64, 256, 256, "nt") is None


def test_a_matmul_is_priced_at_its_measured_rate_plus_the_overhead() -> None:
    op = _mm(64, 256, 256)
    flops = 2 * 64 * 256 * 256
    measured = _profile(matmul_rates=(MatmulRate("f32", 64, 256, 256, 2e9, "nt"),))
    time = CostModel(measured).op_time(op)  # type: ignore[arg-type]
    assert time == pytest.approx(flops / 2e9 + OVERHEAD)
    # Without a table entry of its dtype: the peak times the efficiency, as before.
    peak = CostModel(_profile()).op_time(op)  # type: ignore[arg-type]
    assert peak == pytest.approx(flops / PROFILES["cpu"].flops_f32 + OVERHEAD)


def test_eight_chunks_of_a_small_matmul_cost_more_than_one() -> None:
    table = (
        MatmulRate("bf16", 128, 256, 256, 8e10, "nt"),
        MatmulRate("bf16", 16, 256, 256, 2e10, "nt"),
    )
    for profile in (_profile(matmul_rates=table), PROFILES["h100"]):
        model = CostModel(profile)
        whole = model.op_time(_mm(128, 256, 256, "bf16"))  # type: ignore[arg-type]
        chunks = 8 * model.op_time(_mm(16, 256, 256, "bf16"))  # type: ignore[arg-type]
        assert chunks > whole + 7 * profile.kernel_overhead * 0.999


def test_attention_uses_its_measured_rates_forward_and_backward() -> None:
    q = Value("q", tensor("bf16", 1, 8, 64, 16))
    name = "aten._scaled_dot_product_flash_attention_for_cpu.default"
    forward = make_op(name, [q, q, q], [Value("o", tensor("bf16", 1, 8, 64, 16))])
    backward = make_op(
        name.replace(".default", "_backward.default"),
        [q, q, q, q],
        [Value("g", tensor("bf16", 1, 8, 64, 16))],
    )
    profile = _profile(attention_rate=1e9, attention_backward_rate=5e8)
    model = CostModel(profile)
    flops = 4 * 8 * 64 * 16 * 64
    assert model.op_time(forward) == pytest.approx(flops / 1e9 + OVERHEAD)
    assert model.op_time(backward) == pytest.approx(flops * 2.5 / 5e8 + OVERHEAD)


PROGRAM = """
module {mesh = [["dp", 2]]} {
  func @joint(%x: f32[4,4]) -> (f32[32]) {
    %v = aten.view.default(%x) {size = [16]} : f32[16]
    %g = coll.all_gather(%v) {dim = 0, group = "dp", size = 2} : f32[32]
    %w = coll.wait(%g) : f32[32]
    ctc.return(%w)
  }
}
"""


def test_views_and_collective_issue_take_compute_time_when_measured() -> None:
    module = parse_module(PROGRAM)
    plain = simulate_module(module, CostModel(_profile(), module.mesh))[0]
    measured_profile = _profile(view_overhead=3e-6, collective_issue_overhead=50e-6)
    measured = simulate_module(module, CostModel(measured_profile, module.mesh))[0]
    assert plain.compute_ms == 0.0
    assert measured.compute_ms == pytest.approx((3e-6 + 50e-6) * 1e3)
    assert measured.step_ms == pytest.approx(plain.step_ms + (3e-6 + 50e-6) * 1e3)
    assert PROFILES["h100"].view_overhead == 0.0
    assert PROFILES["h100"].collective_issue_overhead == 0.0
