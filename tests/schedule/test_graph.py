"""Dependency graphs, flattening and regrouping of regions, and memory liveness."""

from __future__ import annotations

from hypothesis import given, settings

from ctc.ir import parse_module
from ctc.schedule.graph import DependencyGraph, flatten, regroup
from ctc.schedule.memory import memory_profile
from ctc.schedule.units import decompose
from tests.schedule.programs import Program, build, programs

TEXT = """module {mesh = [["dp", 2]]} {
  func @joint(%p: f32[4], %x: f32[4]) -> (f32[4]) {
    %ag = coll.all_gather(%p) {dim = 0, group = "dp", size = 2} : f32[8]
    ctc.region() {kind = "block", name = "layers.0"} {
      %w = coll.wait(%ag) : f32[8]
      %y = aten.add.Tensor(%x, %x) : f32[4]
      ctc.region() {kind = "inductor", name = "r0"} {
        %z = aten.mul.Tensor(%y, %y) : f32[4]
      }
    }
    %ag2 = coll.all_gather(%z) {dim = 0, group = "dp", size = 2} : f32[8]
    %w2 = coll.wait(%ag2) : f32[8]
    %u = aten.copy_.default(%x, %y) : f32[4]
    %v = aten.add.Tensor(%x, %z) : f32[4]
    ctc.return(%v)
  }
}
"""


def test_flatten_then_regroup_is_the_identity() -> None:
    func = parse_module(TEXT).functions[0]
    flat = flatten(func)
    assert [op.name for op in flat.ops][:4] == [
        "coll.all_gather",
        "coll.wait",
        "aten.add.Tensor",
        "aten.mul.Tensor",
    ]
    assert flat.paths[3] == (0, 1)
    assert regroup(flat.ops, flat.paths, flat.regions) == func.ops


def test_edges_data_stream_and_effect() -> None:
    ops = flatten(parse_module(TEXT).functions[0]).ops
    graph = DependencyGraph(ops).graph
    kinds = {(a, b): data["kind"] for a, b, data in graph.edges(data=True)}
    assert kinds[(0, 1)] == "data"  # all_gather -> wait
    assert kinds[(0, 4)] == "stream"  # the group's two all-gathers keep their order
    assert kinds[(2, 6)] == "data"  # y -> copy_
    assert kinds[(6, 7)] == "effect"  # the read of x after the copy_ into it
    assert all(b == len(ops) - 1 for a, b in graph.edges if kinds[(a, b)] == "effect" and b > 7)


@settings(max_examples=30, deadline=None)
@given(program=programs())
def test_topological_orders_are_valid(program: Program) -> None:
    ops = flatten(build(program).functions[0]).ops
    graph = DependencyGraph(ops)
    assert graph.topological_order() == list(range(len(ops)))
    assert graph.respects(range(len(ops)))
    reversed_order = list(reversed(range(len(ops))))
    assert len(ops) < 2 or not graph.respects(reversed_order)


def test_collective_inputs_stay_alive_until_the_wait() -> None:
    module = parse_module(
        """module {mesh = [["dp", 2]]} {
  func @joint(%x: f32[4]) -> (f32[]) {
    %y = aten.mul.Tensor(%x, %x) : f32[4]
    %rs = coll.reduce_scatter(%y) {dim = 0, group = "dp", reduce_op = "sum", size = 2} : f32[2]
    %z = aten.add.Tensor(%x, %x) : f32[4]
    %g = coll.wait(%rs) : f32[2]
    %s = aten.sum.default(%g) : f32[]
    ctc.return(%s)
  }
}
"""
    )
    func = module.functions[0]
    profile = memory_profile(flatten(func).ops, func.args)
    # x (16) resident; y (16) lives to the wait, so it overlaps z (16) and the rs buffer (8).
    assert profile.live_bytes == (32, 40, 56, 40, 28, 20)
    assert profile.peak_bytes == 56 and profile.peak_index == 2


def test_only_data_movement_travels_with_a_collective() -> None:
    """A collective's unit takes the casts and views around it, never computation that merely
    reads its result (an embedding lookup, a norm's arithmetic, later backward ops): those stay
    where the program put them, or moving the unit would move them across the step."""
    text = """module {mesh = [["dp", 2]]} {
  func @joint(%p: f32[4,8], %tokens: i64[3]) -> (f32[]) {
    %c = aten._to_copy.default(%p) {dtype = #dtype<bf16>} : bf16[4,8]
    %ag = coll.all_gather(%c) {dim = 0, group = "dp", size = 2} : bf16[8,8]
    %w = coll.wait(%ag) : bf16[8,8]
    %v = aten.view.default(%w) {size = [8, 8]} : bf16[8,8]
    %e = aten.embedding.default(%v, %tokens) : bf16[3,8]
    %sq = aten.pow.Tensor_Scalar(%e) {exponent = 2} : bf16[3,8]
    %s = aten.sum.default(%sq) : f32[]
    ctc.return(%s)
  }
}
"""
    layout = decompose(parse_module(text).functions[0])
    (unit,) = layout.units
    assert [op.results[0].name for op in unit.start] == ["c", "ag"]
    assert [op.results[0].name for op in unit.finish] == ["w", "v"]
    assert [op.results[0].name for op in layout.skeleton[:3]] == ["e", "sq", "s"]
