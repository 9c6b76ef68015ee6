"""The lifting rules on small FX graphs: multi-output ops, constants, higher-order regions,
Python callables, types, and the constructs the IR refuses with a CtcError naming the node."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.fx as fx
from torch.fx.experimental.proxy_tensor import make_fx

from ctc.errors import CtcError
from ctc.frontend_fx import lift_function
from ctc.frontend_fx.fx_types import type_of
from ctc.ir import Module, parse_module, print_module, verify


def lift(module: fx.GraphModule) -> Module:
    lifted = Module((lift_function(module, "joint", None),))
    assert verify(lifted) == []
    assert parse_module(print_module(lifted)) == lifted
    return lifted


def traced(fn: Callable[..., Any], *args: Any) -> fx.GraphModule:
    module: fx.GraphModule = make_fx(fn, tracing_mode="fake")(*args)
    return module


def body(module: Module) -> str:
    return print_module(module).split(") {\n", 1)[1]


def test_multi_output_results_are_named_after_their_getitems() -> None:
    def f(x: torch.Tensor) -> torch.Tensor:
        a, _, c = torch.split(x, 2)
        return a + c

    text = body(lift(traced(f, torch.randn(6))))
    assert "%getitem, %getitem_1, %getitem_2 = aten.split.Tensor(%x_1) {split_size = 2}" in text
    assert "operator.getitem" not in text and "_operator" not in text


def test_unused_outputs_without_getitems_get_fresh_names() -> None:
    graph = fx.Graph()
    x = graph.placeholder("x")
    split = graph.call_function(torch.ops.aten.split.Tensor, (x, 2), name="split")
    first = graph.call_function(operator.getitem, (split, 0))
    graph.call_function(torch.ops.aten.relu.default, (first,), name="split_1")
    graph.output(first)
    with torch._subclasses.FakeTensorMode():
        value = torch.empty(6)
        x.meta["val"] = value
        split.meta["val"] = list(torch.split(value, 2))
        first.meta["val"] = split.meta["val"][0]
        list(graph.nodes)[3].meta["val"] = torch.relu(first.meta["val"])
    text = body(lift(fx.GraphModule(torch.nn.Module(), graph)))
    assert "%getitem, %split_1_1, %split_2 = aten.split.Tensor(%x)" in text


def _constant_graph(constant: torch.Tensor) -> fx.GraphModule:
    root = torch.nn.Module()
    root.register_buffer("_tensor_constant0", constant)
    graph = fx.Graph()
    node = graph.get_attr("_tensor_constant0")
    graph.output(node)
    return fx.GraphModule(root, graph)


def test_uniform_tensor_constants_become_full() -> None:
    text = body(lift(_constant_graph(torch.tensor(0))))
    assert (
        "%_tensor_constant0 = aten.full.default() {device = #device<cpu>, dtype = #dtype<i64>, "
        "fill_value = 0, size = []} : i64[]"
    ) in text
    text = body(lift(_constant_graph(torch.full((2, 3), 0.5, dtype=torch.bfloat16))))
    assert "fill_value = 0.5, size = [2, 3]} : bf16[2,3]" in text


def test_other_small_constants_become_a_tensor_literal() -> None:
    text = body(lift(_constant_graph(torch.tensor([[1, 2], [3, 4]], dtype=torch.int32))))
    assert (
        "python.torch.tensor([[1, 2], [3, 4]]) {device = #device<cpu>, dtype = #dtype<i32>}"
    ) in text


def test_large_varied_constants_are_refused_by_name() -> None:
    with pytest.raises(CtcError, match=r"tensor constant node %_tensor_constant0 .* 5000 elements"):
        lift(_constant_graph(torch.arange(5000)))


def test_higher_order_sub_graphs_become_regions() -> None:
    def f(p: torch.Tensor, x: torch.Tensor) -> Any:
        return torch.cond(p, lambda y: (y.sin(),), lambda y: (y.cos(),), (x,))

    text = body(lift(traced(f, torch.tensor(True), torch.randn(3))))
    assert "%getitem = higher_order.cond(%p_1, #region<0>, #region<1>, [%x_1]) : f32[3] {" in text
    assert "^bb0(%arg0_1: f32[3]):" in text
    assert 'ctc.yield(%sin) {sequence = "tuple"}' in text


def test_python_callables_are_named_by_module() -> None:
    graph = fx.Graph()
    x = graph.placeholder("x")
    size = graph.call_function(torch.ops.aten.sym_size.int, (x, 0))
    doubled = graph.call_function(operator.mul, (size, 2))
    graph.output(doubled)
    x.meta["val"] = torch.empty(3)
    size.meta["val"] = 3
    doubled.meta["val"] = 6
    text = body(lift(fx.GraphModule(torch.nn.Module(), graph)))
    assert "%sym_size_int = aten.sym_size.int(%x) {dim = 0} : int" in text
    assert "%mul = python._operator.mul(%sym_size_int, 2) : int" in text


def test_dtype_and_device_arguments_are_tags() -> None:
    def f(x: torch.Tensor) -> torch.Tensor:
        return x.to(torch.bfloat16) + torch.ones(3, device="cpu")

    text = body(lift(traced(f, torch.randn(3))))
    assert "{dtype = #dtype<bf16>}" in text
    assert "device = #device<cpu>" in text


def test_annotations_must_be_json_like() -> None:
    module = traced(lambda x: x.relu(), torch.randn(3))
    relu = next(n for n in module.graph.nodes if n.op == "call_function")
    relu.meta["custom"] = {"compile_with_inductor": {"inductor_region": 0}}
    lifted = lift(module)
    assert lifted.functions[0].ops[0].loc.annotations is not None
    relu.meta["custom"] = {"bad": object()}
    with pytest.raises(CtcError, match=r"node %relu .* annotation the IR cannot hold"):
        lift(module)


def test_call_module_nodes_are_refused_by_name() -> None:
    module = fx.symbolic_trace(torch.nn.Sequential(torch.nn.ReLU()))
    for node in module.graph.nodes:
        node.meta["val"] = torch.empty(2)
    with pytest.raises(CtcError, match=r"node %_0 \(call_module 0\)"):
        lift(module)


def test_unknown_collectives_are_refused_by_name() -> None:
    graph = fx.Graph()
    x = graph.placeholder("x")
    broadcast = graph.call_function(torch.ops._c10d_functional.broadcast.default, (x, 0, "0"))
    graph.output(broadcast)
    x.meta["val"] = broadcast.meta["val"] = torch.empty(2)
    with pytest.raises(CtcError, match=r"%broadcast_default .* no collective for broadcast"):
        lift(fx.GraphModule(torch.nn.Module(), graph))


def test_used_values_need_a_type() -> None:
    module = traced(lambda x: x.relu() + 1, torch.randn(3))
    relu = next(n for n in module.graph.nodes if n.op == "call_function")
    del relu.meta["val"]
    with pytest.raises(CtcError, match=r"node %relu .* no meta\['val'\]"):
        lift(module)


def test_types_keep_strides_symbols_and_script_objects() -> None:
    from torch._subclasses import FakeTensorMode
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    assert str(type_of(torch.empty(2, 3).t())) == "f32[3,2, strides=[1,3]]"
    assert str(type_of(torch.empty(2, 3, dtype=torch.bfloat16))) == "bf16[2,3]"
    shape_env = ShapeEnv()
    with FakeTensorMode(shape_env=shape_env):
        size = shape_env.create_unbacked_symint()
        value = torch.empty(size, 4)
        assert str(type_of(value)) == f"f32[{size},4]"
        assert str(type_of(size)) == "int"
        assert str(type_of(value.t())) == f"f32[4,{size}, strides=[1,4]]"
    assert str(type_of(True)) == "bool" and str(type_of(None)) == "none"
