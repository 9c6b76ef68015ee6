"""Independent computation moved under stalling collectives (``ctc.schedule.overlap``)."""

from __future__ import annotations

from ctc.ir import parse_module
from ctc.schedule.cost import CostModel
from ctc.schedule.graph import DependencyGraph, flatten
from ctc.schedule.memory import memory_profile
from ctc.schedule.overlap import fill_stalls
from ctc.schedule.simulate import simulate_function
from tests.schedule.test_simulate import PROFILE

# Each mm of two f32[100,100] is 2 ms; the all-reduce of f32[100,100] takes 4 ms (80 kB per
# direction, 10 MB/s). %wgrad does not depend on the all-reduce and sits before its issue; %side
# does not read its result and sits after the wait: both can run while it is in flight.
TEXT = """module {mesh = [["tp", 2]]} {
  func @joint(%a: f32[100,100], %b: f32[100,100]) -> (f32[100,100], f32[100,100], f32[100,100]) {
    %x = aten.mm.default(%a, %b) : f32[100,100]
    %wgrad = aten.mm.default(%b, %b) : f32[100,100]
    %ar = coll.all_reduce(%x) {group = "tp", size = 2, reduce_op = "sum"} : f32[100,100]
    %w = coll.wait(%ar) : f32[100,100]
    %y = aten.mm.default(%w, %b) : f32[100,100]
    %side = aten.mm.default(%a, %a) : f32[100,100]
    ctc.return(%y, %wgrad, %side)
  }
}
"""


def test_independent_work_fills_the_stall() -> None:
    module = parse_module(TEXT)
    func = module.functions[0]
    model = CostModel(PROFILE, module.mesh)
    peak = memory_profile(flatten(func).ops, func.args).peak_bytes
    filled = fill_stalls(func, model, 2 * peak)
    names = [op.results[0].name for op in flatten(filled).ops if op.results]
    assert names == ["x", "ar", "wgrad", "side", "w", "y"]
    before, after = simulate_function(func, model), simulate_function(filled, model)
    assert after.step_ms < before.step_ms
    assert after.exposed_comm_ms == 0.0
    position = {id(op): index for index, op in enumerate(flatten(func).ops)}
    order = [position[id(op)] for op in flatten(filled).ops]
    assert DependencyGraph(flatten(func).ops).respects(order)
    assert memory_profile(flatten(filled).ops, func.args).peak_bytes <= 2 * peak


def test_nothing_moves_without_room_in_memory() -> None:
    module = parse_module(TEXT)
    func = module.functions[0]
    peak = memory_profile(flatten(func).ops, func.args).peak_bytes
    model = CostModel(PROFILE, module.mesh)
    assert fill_stalls(func, model, peak - 1) is func


def test_work_the_collective_needs_stays_before_it() -> None:
    text = TEXT.replace("%x = aten.mm.default(%a, %b)", "%x = aten.mm.default(%wgrad, %b)")
    text = text.replace("    %wgrad = aten.mm.default(%b, %b) : f32[100,100]\n", "").replace(
        "  func @joint(%a: f32[100,100], %b: f32[100,100]) -> (f32[100,100], f32[100,100], f32[100,100]) {\n",
        "  func @joint(%a: f32[100,100], %b: f32[100,100]) -> (f32[100,100], f32[100,100], f32[100,100]) {\n"
        "    %wgrad = aten.mm.default(%b, %b) : f32[100,100]\n",
    )
    module = parse_module(text)
    filled = fill_stalls(module.functions[0], CostModel(PROFILE, module.mesh), 10**9)
    names = [op.results[0].name for op in flatten(filled).ops if op.results]
    assert names.index("wgrad") < names.index("x") < names.index("ar")
