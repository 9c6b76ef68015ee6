"""The cost model: FLOP counts, ring formulas, node spans, profiles from JSON."""

from __future__ import annotations

import pytest

from ctc.ir import CollectiveOp, Value, make_op, tensor
from ctc.schedule.cost import CostModel, op_flops, ring_steps_and_bytes
from ctc.schedule.profile import PROFILES


def _v(name: str, *shape: int, dtype: str = "bf16") -> Value:
    return Value(name, tensor(dtype, *shape))


@pytest.mark.parametrize(
    ("name", "operands", "result", "flops"),
    [
        ("aten.mm.default", [(64, 32), (32, 16)], (64, 16), 2 * 64 * 32 * 16),
        ("aten.addmm.default", [(16,), (64, 32), (32, 16)], (64, 16), 2 * 64 * 32 * 16),
        ("aten.bmm.default", [(4, 64, 32), (4, 32, 16)], (4, 64, 16), 2 * 4 * 64 * 32 * 16),
        ("aten.add.Tensor", [(64, 32), (64, 32)], (64, 32), 0),
    ],
)
def test_matmul_flops(
    name: str, operands: list[tuple[int, ...]], result: tuple[int, ...], flops: int
) -> None:
    values = [_v(f"x{i}", *shape) for i, shape in enumerate(operands)]
    assert op_flops(make_op(name, values, [_v("y", *result)])) == flops


def test_attention_flops_forward_causal_backward_and_flex() -> None:
    q, k, v = _v("q", 2, 8, 128, 64), _v("k", 2, 8, 256, 64), _v("v", 2, 8, 256, 64)
    out = _v("o", 2, 8, 128, 64)
    dense = 4 * 2 * 8 * 128 * 256 * 64
    sdpa = "aten._scaled_dot_product_flash_attention.default"
    assert op_flops(make_op(sdpa, [q, k, v], [out])) == dense
    assert op_flops(make_op(sdpa, [q, k, v], [out], {"is_causal": True})) == dense // 2
    grad = _v("g", 2, 8, 128, 64)
    backward = make_op(sdpa.replace(".default", "_backward.default"), [grad, q, k, v], [out])
    assert op_flops(backward) == int(dense * 2.5)
    flex = make_op("higher_order.flex_attention", [q, k, v], [out])
    assert op_flops(flex) == dense // 2


def test_ring_formulas() -> None:
    shard, full = _v("s", 1024, dtype="f32"), _v("f", 8192, dtype="f32")
    gather = make_op("coll.all_gather", [shard], [full], {"group": "dp", "size": 8, "dim": 0})
    assert isinstance(gather, CollectiveOp)
    assert ring_steps_and_bytes(gather) == (7, 8192 * 4 * 7 / 8)
    reduce = make_op(
        "coll.all_reduce",
        [full],
        [_v("r", 8192, dtype="f32")],
        {"group": "dp", "size": 8, "reduce_op": "sum"},
    )
    assert isinstance(reduce, CollectiveOp)
    assert ring_steps_and_bytes(reduce) == (14, 2 * 8192 * 4 * 7 / 8)
    model = CostModel(PROFILES["h100"], (("dp", 8),))
    profile = PROFILES["h100"]
    expected = (
        profile.intra_node_latency
        + 7 * profile.intra_node_hop_latency
        + 8192 * 4 * 7 / 8 / profile.intra_node_bandwidth
    )
    assert model.collective_time(gather) == pytest.approx(expected)


def test_groups_spanning_nodes_use_the_inter_node_link() -> None:
    mesh = (("dp", 4), ("tp", 8))
    shard, full = _v("s", 1024), _v("f", 4096)
    dp = make_op("coll.all_gather", [shard], [full], {"group": "dp", "size": 4, "dim": 0})
    tp = make_op("coll.all_gather", [shard], [_v("t", 8192)], {"group": "tp", "size": 8, "dim": 0})
    assert isinstance(dp, CollectiveOp) and isinstance(tp, CollectiveOp)
    model = CostModel(PROFILES["h100"], mesh)
    assert model.spans_nodes(dp) and not model.spans_nodes(tp)
    assert CostModel(PROFILES["h100-ib"], mesh).spans_nodes(tp)
    assert not CostModel(PROFILES["cpu"], mesh).spans_nodes(dp)


def test_views_cost_nothing_and_kernels_cost_their_overhead() -> None:
    model = CostModel(PROFILES["h100"])
    x = _v("x", 64, 32)
    view = make_op("aten.view.default", [x], [_v("y", 2048)], {"size": [2048]})
    assert model.op_time(view) == 0.0
    add = make_op("aten.add.Tensor", [x, x], [_v("z", 64, 32)])
    profile = PROFILES["h100"]
    memory = 3 * 64 * 32 * 2 / (profile.memory_bandwidth * profile.memory_efficiency)
    assert model.op_time(add) == pytest.approx(memory + profile.kernel_overhead)
