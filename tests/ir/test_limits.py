"""The IR's limits, each refused with a located error and never a RecursionError: regions nested
more than MAX_REGION_DEPTH deep, dimensions above 2^48; and a UTF-8 byte-order mark."""

from __future__ import annotations

import pytest

from ctc.errors import SourceError
from ctc.ir import Block, Func, Module, Value, parse_module, print_module, tensor, verify, walk_ops
from ctc.ir.ops import make_op
from ctc.ir.types import MAX_DIM, type_problems
from ctc.ir.verifier import MAX_REGION_DEPTH


def _nested_text(depth: int, indent: bool = True) -> str:
    """A function whose one aten op sits inside ``depth`` nested grouping regions, indented
    as the printer does (quadratic in ``depth``) or not."""

    def pad(level: int) -> str:
        return "  " * (level + 2) if indent else ""

    lines = ["module {", "  func @f(", "      %x: f32[2]", "  ) -> (", "      f32[2]", "  ) {"]
    for level in range(depth):
        lines.append(pad(level) + f'ctc.region() {{kind = "group", name = "r{level}"}} {{')
    lines.append(pad(depth) + "%y = aten.relu.default(%x) : f32[2]")
    lines += [pad(level) + "}" for level in reversed(range(depth))]
    lines += ["    ctc.return(%y)", "  }", "}", ""]
    return "\n".join(lines)


def test_regions_at_the_depth_limit_parse_verify_and_print() -> None:
    text = _nested_text(MAX_REGION_DEPTH)
    module = parse_module(text)
    assert print_module(module) == text
    assert sum(1 for _ in walk_ops(module.functions[0].ops)) == MAX_REGION_DEPTH + 2


def test_thousands_of_nested_regions_read_print_and_get_one_located_error() -> None:
    depth = 3000
    text = _nested_text(depth, indent=False)
    module = parse_module(text, verify_module=False)
    assert print_module(module) == _nested_text(depth)
    assert sum(1 for _ in walk_ops(module.functions[0].ops)) == depth + 2
    problems = verify(module)
    assert [p.message for p in problems] == [
        f"regions nest more than {MAX_REGION_DEPTH} levels deep here; ctc accepts at most that many"
    ]
    with pytest.raises(SourceError) as caught:
        parse_module(text, "deep.ctc")  # the fast reader reads it, lark locates the error
    (diagnostic,) = caught.value.diagnostics
    # The first region too deep is the one on line 7 + MAX_REGION_DEPTH.
    assert (diagnostic.line, diagnostic.column) == (7 + MAX_REGION_DEPTH, 1)


def test_a_built_module_of_deep_regions_verifies_and_prints_without_recursion() -> None:
    x = Value("x", tensor("f32", 2))
    inner: tuple = (make_op("aten.relu.default", [x], [Value("y", tensor("f32", 2))]),)
    for level in reversed(range(5000)):
        region = make_op(
            "ctc.region", regions=[Block(inner)], attributes={"kind": "group", "name": f"r{level}"}
        )
        inner = (region,)
    body = Block((*inner, make_op("ctc.return", [Value("y", tensor("f32", 2))])), (x,))
    module = Module((Func("f", body, (tensor("f32", 2),)),))
    assert len(verify(module)) == 1
    assert print_module(module).count("ctc.region()") == 5000


def test_dimensions_up_to_two_to_the_48_are_accepted() -> None:
    text = f"module {{\n  func @f(%x: f32[{MAX_DIM},1]) -> () {{\n    ctc.return()\n  }}\n}}\n"
    assert print_module(parse_module(text)).count(str(MAX_DIM)) == 1
    assert type_problems(tensor("f32", MAX_DIM)) == []
    assert type_problems(tensor("f32", MAX_DIM + 1)) == [
        f"dimension {MAX_DIM + 1} in f32[{MAX_DIM + 1}] exceeds 2^48 = {MAX_DIM}, "
        "the largest dimension ctc accepts"
    ]


def test_a_leading_byte_order_mark_is_accepted() -> None:
    text = _nested_text(1)
    assert parse_module("\ufeff" + text) == parse_module(text)


def test_symbol_dimensions_spelled_like_keywords_round_trip() -> None:
    value_type = tensor("f32", 2, "strides", "none")
    assert str(value_type) == 'f32[2,"strides",none]'
    text = f"module {{\n  func @f(%x: {value_type}) -> () {{\n    ctc.return()\n  }}\n}}\n"
    assert parse_module(text).functions[0].args[0].type == value_type
