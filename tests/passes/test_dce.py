"""Dead-code elimination."""

from __future__ import annotations

from ctc.ir import Module, Value, parse_module, tensor, verify
from ctc.ir.effects import kept_without_uses
from ctc.ir.ops import make_op
from ctc.passes.dce import DeadCodeEliminationPass

HEADER = (
    'module {mesh = [["dp", 2]]} {\n  func @joint(%x: f32[4,4], %w: f32[2,4]) -> (f32[4,4]) {\n'
)
FOOTER = "  }\n}\n"


def run(body: str) -> Module:
    module = parse_module(HEADER + body + FOOTER)
    result = DeadCodeEliminationPass().run(module)
    assert verify(result) == []
    return result


def body_of(module: Module) -> list[str]:
    return [op.results[0].name if op.results else op.name for op in module.functions[0].ops]


def test_removes_unused_chains_and_keeps_used_ops() -> None:
    result = run(
        """
    %a = aten.relu.default(%x) : f32[4,4]
    %b = aten.neg.default(%a) : f32[4,4]
    %c = aten.abs.default(%b) : f32[4,4]
    %d = aten.exp.default(%x) : f32[4,4]
    ctc.return(%d)
"""
    )
    assert body_of(result) == ["d", "ctc.return"]


def test_keeps_effects_in_place_and_random_ops() -> None:
    result = run(
        """
    %a = aten.add_.Tensor(%x, %x) : f32[4,4]
    %r = aten.rand_like.default(%x) : f32[4,4]
    %m = aten.native_dropout.default(%x) {p = 0.1, train = true} : f32[4,4]
    %s = aten.sum.default(%x) : f32[]
    aten._assert_async.msg(%s) {assert_msg = "positive"}
    %dead = aten.clone.default(%x) : f32[4,4]
    ctc.return(%x)
"""
    )
    assert body_of(result) == ["a", "r", "m", "s", "aten._assert_async.msg", "ctc.return"]


def test_collectives_go_with_their_wait() -> None:
    result = run(
        """
    %ag = coll.all_gather(%w) {group = "dp", size = 2} : f32[4,4]
    %g = coll.wait(%ag) : f32[4,4]
    %rs = coll.all_gather(%w) {group = "dp", size = 2} : f32[4,4]
    %kept = coll.wait(%rs) : f32[4,4]
    ctc.return(%kept)
"""
    )
    assert body_of(result) == ["rs", "kept", "ctc.return"]


def test_regions_shrink_and_empty_ones_go() -> None:
    result = run(
        """
    ctc.region() {kind = "block", name = "layers.0"} {
      %a = aten.relu.default(%x) : f32[4,4]
      %dead = aten.neg.default(%x) : f32[4,4]
    }
    ctc.region() {kind = "block", name = "layers.1"} {
      %gone = aten.neg.default(%x) : f32[4,4]
    }
    ctc.return(%a)
"""
    )
    (region, ret) = result.functions[0].ops
    assert region.attr("name") is not None and str(region.attr("name")) == '"layers.0"'
    assert [op.results[0].name for op in region.regions[0].ops] == ["a"]
    assert ret.name == "ctc.return"


def test_sub_graphs_of_higher_order_ops_are_cleaned_in_their_own_scope() -> None:
    result = run(
        """
    %o = higher_order.map(%x) : f32[4,4] {
      ^bb0(%x: f32[4,4]):
        %x2 = aten.neg.default(%x) : f32[4,4]
        %unused = aten.exp.default(%x) : f32[4,4]
        ctc.yield(%x2)
    }
    ctc.return(%o)
"""
    )
    (hop, _) = result.functions[0].ops
    assert [op.name for op in hop.regions[0].ops] == ["aten.neg.default", "ctc.yield"]


def test_effect_rules() -> None:
    x = Value("x", tensor("f32", 2))
    y = Value("y", tensor("f32", 2))
    assert kept_without_uses(make_op("aten.copy_.default", [x, x], [y]))
    assert kept_without_uses(make_op("aten.bernoulli.p", [x], [y]))
    assert not kept_without_uses(make_op("aten.__and__.Tensor", [x, x], [y]))
    assert not kept_without_uses(make_op("aten.expand.default", [x], [y]))
    assert not kept_without_uses(make_op("coll.wait", [x], [y]))
    assert kept_without_uses(make_op("ctc.return", [x]))


def test_idempotent_on_the_example(two_blocks: Module) -> None:
    once = DeadCodeEliminationPass().run(two_blocks)
    assert DeadCodeEliminationPass().run(once) == once
    assert len(list(once.functions[0].ops)) == len(two_blocks.functions[0].ops) - 1
