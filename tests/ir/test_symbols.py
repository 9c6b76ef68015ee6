"""ctc sizes expert-parallel token counts (unbacked symbols) for its cost model: balanced routing
read from the module's own all-to-alls, optionally skewed."""

from __future__ import annotations

from ctc.ir import Value, parse_module, verify
from ctc.ir.symbols import evaluate, routed_symbol_sizes, with_sizes

# A dispatch: 8 local rows (tokens x top_k) go to 2 expert-parallel ranks; the rows received
# are one unbacked count per source rank, and the expert matmul runs on them.
EXPERT_PARALLEL = """module {mesh = [["ep", 2]]} {
  func @f(%x: f32[8,4], %w: f32[4,4]) -> (f32["u0 + u1",4]) {
    %sent = coll.all_to_all(%x) {group = "ep", size = 2} : f32["u0 + u1",4]
    %got = coll.wait(%sent) : f32["u0 + u1",4]
    %h = aten.mm.default(%got, %w) : f32["u0 + u1",4]
    %n = aten.sym_size.int(%h) {dim = 0} : int
    %v = aten.view.default(%h) {size = [-1]} : f32["4*u0 + 4*u1"]
    %y = aten.view.default(%v) {size = [-1, 4]} : f32["u0 + u1",4]
    ctc.return(%y)
  }
}
"""


def test_balanced_routing_receives_as_many_rows_as_it_sends() -> None:
    module = parse_module(EXPERT_PARALLEL)
    assert routed_symbol_sizes(module) == {"u0": 4, "u1": 4}
    assert routed_symbol_sizes(module, skew=1.5) == {"u0": 6, "u1": 6}


def test_sized_modules_have_concrete_types_and_verify() -> None:
    module = parse_module(EXPERT_PARALLEL)
    sized = with_sizes(module, routed_symbol_sizes(module))
    assert verify(sized) == []
    text = str(sized)
    assert "u0" not in text
    assert "%got = coll.wait(%sent) : f32[8,4]" in text
    assert "f32[32]" in text
    returned = sized.functions[0].ops[-1].operands[0]
    assert isinstance(returned, Value)
    assert sized.functions[0].result_types == (returned.type,)


def test_a_module_without_symbols_is_unchanged() -> None:
    module = parse_module(EXPERT_PARALLEL.replace('"u0 + u1"', "8").replace('"4*u0 + 4*u1"', "32"))
    assert routed_symbol_sizes(module) == {}
    assert with_sizes(module, {}) is module


def test_size_expressions() -> None:
    assert evaluate("u0 + 2*u1 - 3", {"u0": 5, "u1": 7}) == 16
    assert evaluate("u0 // 2", {"u0": 9}) == 4
    assert evaluate("u0 + s3", {"u0": 1}) is None  # s3 has no value
    assert evaluate("__import__('os')", {}) is None
