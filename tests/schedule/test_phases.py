"""A joint keeps every forward op before the first tangent-dependent op after scheduling."""

from __future__ import annotations

from ctc.ir import parse_module
from ctc.schedule.phases import keep_forward_first

JOINT = """
module {mesh = [["dp_shard", 2]]} {
  func @joint(%w: f32[4,8] {param = "w"}, %x: f32[2,8] {input = 0},
              %t: f32[] {tangent = 0}) -> (f32[] {loss = 0}, f32[4,8] {grad = "w"}) {
    %ag = coll.all_gather(%w) {dim = 0, group = "dp_shard", size = 2} : f32[8,8] loc(module = "loss", phase = "fwd")
    %xt = aten.t.default(%x) : f32[8,2, strides=[1,8]] loc(phase = "bwd")
    %g = aten.mul.Tensor(%x, %t) : f32[2,8] loc(phase = "bwd")
    %gw = aten.mm.default(%xt, %g) : f32[8,8] loc(phase = "bwd")
    %full = coll.wait(%ag) : f32[8,8] loc(module = "loss", phase = "fwd")
    %view = aten.view.default(%full) {size = [64]} : f32[64]
    %loss = aten.sum.default(%view) : f32[] loc(module = "loss", phase = "fwd")
    %rs = coll.reduce_scatter(%gw) {dim = 0, group = "dp_shard", reduce_op = "sum", size = 2} : f32[4,8] loc(phase = "bwd")
    %sw = coll.wait(%rs) : f32[4,8] loc(phase = "bwd")
    ctc.return(%loss, %sw)
  }
}
"""


def _names(module_text: str) -> list[str]:
    func = keep_forward_first(parse_module(module_text).function("joint"))
    return [op.results[0].name if op.results else op.name for op in func.ops]


def test_forward_ops_after_a_tangent_reader_move_before_it() -> None:
    order = _names(JOINT)
    # The wait, the phase-less view between, and the loss move above %g (reads the tangent);
    # %xt (backward, tangent-free) stays where it was.
    assert order == ["ag", "xt", "full", "view", "loss", "g", "gw", "rs", "sw", "ctc.return"]


def test_a_partitionable_joint_is_unchanged() -> None:
    module = parse_module(JOINT)
    once = keep_forward_first(module.function("joint"))
    assert keep_forward_first(once) == once


def test_a_function_without_tangents_is_unchanged() -> None:
    text = JOINT.replace(" {tangent = 0}", " {input = 1}")
    func = parse_module(text).function("joint")
    assert keep_forward_first(func) is func
