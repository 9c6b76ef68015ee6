"""inductor(...) and cudagraph mark regions in the IR; nothing else changes."""

from __future__ import annotations

import pytest

from ctc.errors import CtcError
from ctc.ir import RegionOp, parse_module, print_module, verify, walk_ops
from ctc.passes.cudagraph import CudagraphPass
from ctc.passes.inductor import InductorPass

PROGRAM = """module {
  func @fwd(%x: f32[4], %y: f32[4]) -> (f32[4]) {
    %a = aten.mul.Tensor(%x, %y) : f32[4] loc(annotations = {compile_with_inductor = "flex"}, phase = "fwd")
    %b = aten.exp.default(%a) : f32[4] loc(annotations = {compile_with_inductor = "flex"}, phase = "fwd")
    %c = aten.neg.default(%b) : f32[4]
    %d = aten.exp.default(%c) : f32[4] loc(annotations = {compile_with_inductor = "flex"}, phase = "fwd")
    ctc.return(%d)
  }
}
"""


def _flat_names(text_module: object) -> list[str]:
    return [
        op.name
        for op in walk_ops(text_module.functions[0].ops)  # type: ignore[attr-defined]
        if not isinstance(op, RegionOp)
    ]


def test_inductor_regions_wrap_exactly_the_annotated_runs() -> None:
    module = parse_module(PROGRAM)
    marked = InductorPass("regions").run(module)
    assert verify(marked) == []
    top = marked.functions[0].ops
    regions = [op for op in top if isinstance(op, RegionOp)]
    assert [r.kind for r in regions] == ["inductor", "inductor"]
    assert [len(r.body.ops) for r in regions] == [2, 1]
    assert _flat_names(marked) == _flat_names(module)
    assert parse_module(print_module(marked)) == marked


def test_inductor_all_and_cudagraph_wrap_the_whole_body() -> None:
    module = parse_module(PROGRAM.replace("module {", 'module {decompositions = "inductor"} {'))
    for marked, kind in (
        (InductorPass("all").run(module), "inductor"),
        (CudagraphPass().run(module), "cudagraph"),
    ):
        assert verify(marked) == []
        first, last = marked.functions[0].ops
        assert isinstance(first, RegionOp) and first.kind == kind
        assert last.name == "ctc.return"
        assert _flat_names(marked) == _flat_names(module)
    twice = CudagraphPass().run(CudagraphPass().run(module))
    assert twice == CudagraphPass().run(module)


def test_pipeline_text_round_trips() -> None:
    assert str(InductorPass("regions")) == "inductor(regions)"
    assert str(CudagraphPass()) == "cudagraph"


def test_inductor_all_refuses_a_step_captured_without_inductor_decompositions() -> None:
    with pytest.raises(CtcError, match="inductor's decomposition table"):
        InductorPass("all").run(parse_module(PROGRAM))


def test_flex_attention_ops_are_inductor_regions_without_annotation() -> None:
    text = """module {
  func @bwd(%q: f32[1,1,4,8], %k: f32[1,1,4,8]) -> (f32[1,1,4,4]) {
    %s = aten.mul.Tensor(%q, %k) : f32[1,1,4,8]
    %f = higher_order.flex_attention(%q, %k) : f32[1,1,4,4] loc(module = "layers.0.attention", phase = "bwd")
    ctc.return(%f)
  }
}
"""
    marked = InductorPass("regions").run(parse_module(text))
    (region,) = [op for op in marked.functions[0].ops if isinstance(op, RegionOp)]
    assert (region.kind, region.region_name) == ("inductor", "layers.0.attention")
    assert [op.name for op in region.body.ops] == ["higher_order.flex_attention"]


def test_inductor_configs_of_an_annotation_become_the_region_attribute() -> None:
    text = PROGRAM.replace(
        'compile_with_inductor = "flex"',
        'compile_with_inductor = {inductor_configs = {max_autotune = false}, inductor_region = "r"}',
    )
    marked = InductorPass("regions").run(parse_module(text))
    regions = [op for op in marked.functions[0].ops if isinstance(op, RegionOp)]
    assert [r.region_name for r in regions] == ["r", "r"]
    assert regions[0].attributes.get("inductor_configs").py == {"max_autotune": False}
