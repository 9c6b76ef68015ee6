"""Printer and parser are exact inverses on hand-written and built modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc.ir import (
    Block,
    DictAttr,
    FloatAttr,
    Func,
    Loc,
    Module,
    NoneType,
    parse_module,
    print_module,
    tensor,
    verify,
)
from ctc.ir.core import Value
from ctc.ir.ops import make_op

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.ctc"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_round_trip(path: Path) -> None:
    module = parse_module(path.read_text(), str(path))
    text = print_module(module)
    assert parse_module(text) == module
    assert print_module(parse_module(text)) == text
    assert str(module) == text


def _special_floats_module() -> Module:
    x = Value("x", tensor("f32", 4))
    values = [float("nan"), -0.0, 0.0, float("inf"), float("-inf"), 1e-300, 5e-324, 0.1]
    ops = []
    for index, number in enumerate(values):
        ops.append(
            make_op(
                "aten.add.Scalar", [x], [Value(f"y{index}", tensor("f32", 4))], {"other": number}
            )
        )
    weird_nan = FloatAttr(0x7FF8000000000123)
    ops.append(
        make_op("aten.add.Scalar", [x], [Value("z", tensor("f32", 4))], {"other": weird_nan})
    )
    ops.append(make_op("ctc.return", [Value("z", tensor("f32", 4))]))
    func = Func("joint", Block(tuple(ops), (x,)), (tensor("f32", 4),), (DictAttr(),), (DictAttr(),))
    return Module((func,))


def test_float_attributes_round_trip_by_bits() -> None:
    module = _special_floats_module()
    assert verify(module) == []
    text = print_module(module)
    assert "nan<0x7ff8000000000123>" in text
    assert "-0.0" in text and "-inf" in text and "5e-324" in text
    back = parse_module(text)
    assert back == module
    zero = back.functions[0].ops[2].attr("other")
    negative_zero = back.functions[0].ops[1].attr("other")
    assert zero != negative_zero


def test_names_are_never_renumbered() -> None:
    text = (
        "module {\n"
        "  func @joint(\n"
        "      %primals_7: f32[2]\n"
        "  ) -> (\n"
        "      f32[2]\n"
        "  ) {\n"
        "    %zeta.1 = aten.neg.default(%primals_7) : f32[2]\n"
        "    %alpha = aten.neg.default(%zeta.1) : f32[2]\n"
        "    ctc.return(%alpha)\n"
        "  }\n"
        "}\n"
    )
    module = parse_module(text)
    assert print_module(module) == text
    assert [v.name for v in module.functions[0].ops[0].results] == ["zeta.1"]


def test_loc_none_results_and_strides_round_trip() -> None:
    x = Value("x", tensor("bf16", 3, 2, strides=(1, 3)))
    y = Value("y", tensor("bf16", 3, 2))
    loc = Loc(
        module="layers.0.attention",
        phase="bwd",
        seq=4,
        recompute="must_recompute",
        ac_graph_id=2,
        annotations=DictAttr.of({"compile_with_inductor": {"id": 0}}),
    )
    clone = make_op("aten.clone.default", [x], [y], {"memory_format": None}, loc=loc)
    ret = make_op("ctc.return", [y, None])
    func = Func(
        "bwd",
        Block((clone, ret), (x,)),
        (y.type, NoneType()),
        (DictAttr.of({"param": "w"}),),
        (DictAttr.of({"grad": "w"}), DictAttr.of({"grad": "b"})),
    )
    module = Module((func,), DictAttr.of({"mesh": [["dp_shard", 2]]}))
    assert verify(module) == []
    text = print_module(module)
    assert "strides=[1,3]" in text and "loc(ac_graph_id = 2" in text
    assert parse_module(text) == module


def test_opaque_values_round_trip() -> None:
    text = (
        "module {\n"
        "  func @joint(\n"
        "      %mesh: opaque<device_mesh> {input = 1},\n"
        "      %x: f32[2]\n"
        "  ) -> (\n"
        "      f32[2]\n"
        "  ) {\n"
        "    %y = aten.neg.default(%x) : f32[2]\n"
        "    ctc.return(%y)\n"
        "  }\n"
        "}\n"
    )
    module = parse_module(text)
    assert str(module.functions[0].args[0].type) == "opaque<device_mesh>"
    assert print_module(module) == text


def test_contiguous_strides_are_canonicalised_away() -> None:
    assert tensor("f32", 2, 3, strides=(3, 1)) == tensor("f32", 2, 3)


def test_keys_that_are_keywords_or_odd_are_quoted() -> None:
    x = Value("x", tensor("f32", 1))
    op = make_op(
        "aten.abs.default",
        [x],
        [Value("y", x.type)],
        loc=Loc(annotations=DictAttr.of({"none": 1, "with space": 'a"b\n'})),
    )
    func = Func(
        "joint",
        Block((op, make_op("ctc.return", [Value("y", x.type)])), (x,)),
        (x.type,),
        (DictAttr(),),
        (DictAttr(),),
    )
    module = Module((func,))
    text = print_module(module)
    assert '"none" = 1' in text and '"with space"' in text
    assert parse_module(text) == module
