"""The fallback unit is a higher-order op alone: splitting inductor regions around it."""

from __future__ import annotations

from ctc.ir import RegionOp, parse_module, verify
from ctc.ir.core import Module
from ctc.regions_inductor import number_regions, split_around

PROGRAM = """module {
  func @fwd(%q: f32[1,1,4,8]) -> (f32[1,1,4,8]) {
    ctc.region() {kind = "inductor", name = "attn"} {
      %a = aten.neg.default(%q) : f32[1,1,4,8]
      %f = higher_order.flex_attention(%a) : f32[1,1,4,8]
      %b = aten.exp.default(%f) : f32[1,1,4,8]
    }
    ctc.return(%b)
  }
}
"""


def _layout(isolate: set[str], eager: set[str]) -> list[tuple[str, list[str]]]:
    func = split_around(number_regions(parse_module(PROGRAM).functions[0]), isolate, eager)
    layout = []
    for op in func.ops:
        if isinstance(op, RegionOp):
            layout.append(("region", [inner.results[0].name for inner in op.body.ops]))
        elif op.results:
            layout.append(("op", [op.results[0].name]))
    return layout


def test_an_isolated_op_gets_a_region_of_its_own() -> None:
    assert _layout({"f"}, set()) == [("region", ["a"]), ("region", ["f"]), ("region", ["b"])]


def test_an_eager_op_leaves_every_region_even_when_also_isolated() -> None:
    expected = [("region", ["a"]), ("op", ["f"]), ("region", ["b"])]
    assert _layout(set(), {"f"}) == expected
    assert _layout({"f"}, {"f"}) == expected


def test_the_pieces_keep_the_regions_attributes_and_verify() -> None:
    func = split_around(number_regions(parse_module(PROGRAM).functions[0]), set(), {"f"})
    regions = [op for op in func.ops if isinstance(op, RegionOp)]
    assert {(r.region_name, r.attributes.get("ctc_ordinal").py) for r in regions} == {("attn", 0)}
    assert verify(Module((func,))) == []
