"""Lowering hand-written IR to FX computes what the ops mean, with the metadata kept."""

from __future__ import annotations

import pytest
import torch

from ctc.errors import CtcError
from ctc.ir import parse_module
from ctc.lowering import lower_function

PROGRAM = """module {
  func @joint(%x: f32[4,3], %w: f32[3,5], %b: f32[5]) -> (f32[4,5], f32[4], f32[4,5]) {
    ctc.region() {kind = "block", name = "layers.0"} {
      %mm = aten.mm.default(%x, %w) : f32[4,5] loc(module = "layers.0.wq", phase = "fwd", seq = 3, recompute = "must_recompute", ac_graph_id = 1, annotations = {compile_with_inductor = {inductor_region = 0}})
      %add = aten.add.Tensor(%mm, %b) {alpha = 2} : f32[4,5]
    }
    %v, %m = aten.var_mean.correction(%add, [1]) {correction = 0, keepdim = false} : (f32[4], f32[4])
    %c = aten.cat.default([%add, %add]) {dim = 0} : f32[8,5]
    %s0, %s1 = aten.split_with_sizes.default(%c, [4, 4]) : (f32[4,5], f32[4,5])
    %cv = prims.convert_element_type.default(%s1) {dtype = #dtype<f64>} : f64[4,5]
    %back = aten._to_copy.default(%cv) {dtype = #dtype<f32>} : f32[4,5]
    ctc.return(%mm, %v, %back)
  }
}
"""


def test_lowered_graph_computes_the_ops() -> None:
    module = lower_function(parse_module(PROGRAM).functions[0])
    x, w, b = torch.randn(4, 3), torch.randn(3, 5), torch.randn(5)
    mm, variance, back = module(x, w, b)
    added = x @ w + 2 * b
    assert torch.equal(mm, x @ w)
    assert torch.equal(variance, torch.var_mean(added, 1, correction=0)[0])
    assert torch.equal(back, added)


def test_placeholders_names_and_metadata_are_kept() -> None:
    module = lower_function(parse_module(PROGRAM).functions[0])
    placeholders = [n.name for n in module.graph.find_nodes(op="placeholder")]
    assert placeholders == ["x", "w", "b"]
    mm = next(n for n in module.graph.nodes if n.name == "mm")
    assert mm.meta["seq_nr"] == 3
    assert mm.meta["recompute"] == torch.utils.checkpoint.CheckpointPolicy.MUST_RECOMPUTE
    assert mm.meta["ac_graph_id"] == 1
    assert mm.meta["custom"] == {"compile_with_inductor": {"inductor_region": 0}}
    assert mm.meta["partitioner_tag"] == "is_forward"
    assert mm.meta["ctc_module"] == "layers.0.wq"
    assert mm.meta["ctc_regions"] == (("block", "layers.0"),)
    order = [n.name for n in module.graph.nodes if n.op == "call_function"]
    assert order[:3] == ["mm", "add", "var_mean_correction"]


def test_schema_defaults_in_the_middle_are_skipped_by_type() -> None:
    text = """module {
  func @f(%x: f32[3], %y: f32[3]) -> (f32[3]) {
    %r = aten.add.Tensor(%x, %y) : f32[3]
    ctc.return(%r)
  }
}
"""
    module = lower_function(parse_module(text).functions[0])
    x, y = torch.randn(3), torch.randn(3)
    assert torch.equal(module(x, y)[0], x + y)


def test_collectives_without_process_groups_are_a_clear_error() -> None:
    text = """module {mesh = [["dp_shard", 2]]} {
  func @f(%x: f32[3]) -> (f32[6]) {
    %g = coll.all_gather(%x) {dim = 0, group = "dp_shard", size = 2} : f32[6]
    %w = coll.wait(%g) : f32[6]
    ctc.return(%w)
  }
}
"""
    with pytest.raises(CtcError, match="no process group for that mesh dimension"):
        lower_function(parse_module(text).functions[0])


def test_unknown_operator_is_a_clear_error() -> None:
    text = """module {
  func @f(%x: f32[3]) -> (f32[3]) {
    %r = aten.no_such_op.default(%x) : f32[3]
    ctc.return(%r)
  }
}
"""
    with pytest.raises(
        CtcError, match=r"cannot lower aten\.no_such_op\.default: torch has no such"
    ):
        lower_function(parse_module(text).functions[0])
