"""Region outlining by kind, and inlining as its inverse."""

from __future__ import annotations

from ctc.ir import Module, RegionOp, parse_module, verify, walk_ops
from ctc.passes.inline import InlinePass
from ctc.passes.outline import OutlinePass, block_key

HEADER = "module {\n  func @joint(%x: f32[4]) -> (f32[4]) {\n"
FOOTER = "  }\n}\n"


def op_line(name: str, source: str, module: str | None = None, extra: str = "") -> str:
    loc = f'loc(module = "{module}"{extra})' if module else ""
    return f"    %{name} = aten.neg.default(%{source}) : f32[4] {loc}\n"


def regions(module: Module) -> list[tuple[str, str, list[str]]]:
    return [
        (op.kind, op.region_name, [o.results[0].name for o in op.body.ops if o.results])
        for op in walk_ops(module.functions[0].ops)
        if isinstance(op, RegionOp)
    ]


def test_block_key_reads_the_layers_prefix() -> None:
    module = parse_module(
        HEADER
        + op_line("a", "x", "layers.0.attention.wq")
        + op_line("b", "a", "model.layers.12.mlp", ', phase = "bwd"')
        + op_line("c", "b", "tok_embeddings")
        + op_line("d", "c", "layers.3")
        + "    ctc.return(%d)\n"
        + FOOTER
    )
    keys = [block_key(op) for op in module.functions[0].ops[:4]]
    assert keys == [("layers.0", None), ("model.layers.12", "bwd"), None, ("layers.3", None)]


def test_outline_groups_runs_and_absorbs_ops_between_them() -> None:
    module = parse_module(
        HEADER
        + op_line("e", "x", "tok_embeddings")
        + op_line("a", "e", "layers.0.attention")
        + op_line("gap", "a")
        + op_line("b", "gap", "layers.0.mlp")
        + op_line("c", "b", "layers.1.mlp")
        + op_line("after", "c")
        + "    ctc.return(%after)\n"
        + FOOTER
    )
    result = OutlinePass(kind="block").run(module)
    assert verify(result) == []
    assert regions(result) == [
        ("block", "layers.0", ["a", "gap", "b"]),
        ("block", "layers.1", ["c"]),
    ]
    top = [op.name for op in result.functions[0].ops]
    assert top == ["aten.neg.default", "ctc.region", "ctc.region", "aten.neg.default", "ctc.return"]
    assert OutlinePass(kind="block").run(result) == result
    assert InlinePass(kind="block").run(result) == module


def test_phases_make_separate_regions(two_blocks: Module) -> None:
    result = OutlinePass(kind="block").run(two_blocks)
    assert verify(result) == []
    found = [
        (op.region_name, str(op.attr("phase")))
        for op in result.functions[0].ops
        if isinstance(op, RegionOp)
    ]
    assert found == [
        ("layers.0", '"fwd"'),
        ("layers.1", '"fwd"'),
        ("layers.1", '"bwd"'),
        ("layers.0", '"bwd"'),
    ]
    assert InlinePass(kind="all").run(result) == two_blocks


def test_inductor_regions_nest_inside_blocks_in_either_order() -> None:
    annotated = ', annotations = {compile_with_inductor = "flex_attention"}'
    module = parse_module(
        HEADER
        + op_line("a", "x", "layers.0.attention", annotated)
        + op_line("b", "a", "layers.0.attention", annotated)
        + op_line("c", "b", "layers.0.mlp")
        + op_line("d", "c", "layers.1.attention", annotated)
        + "    ctc.return(%d)\n"
        + FOOTER
    )
    blocks_first = OutlinePass(kind="inductor").run(OutlinePass(kind="block").run(module))
    inductor_first = OutlinePass(kind="block").run(OutlinePass(kind="inductor").run(module))
    assert blocks_first == inductor_first
    assert regions(blocks_first) == [
        ("block", "layers.0", ["c"]),
        ("inductor", "flex_attention", ["a", "b"]),
        ("block", "layers.1", []),
        ("inductor", "flex_attention", ["d"]),
    ]
    assert verify(blocks_first) == []
    assert InlinePass(kind="inductor").run(blocks_first) == OutlinePass(kind="block").run(module)
    assert InlinePass(kind="all").run(blocks_first) == module


def test_inline_of_one_kind_leaves_the_others() -> None:
    module = parse_module(
        HEADER
        + '    ctc.region() {kind = "bucket", name = "b0"} {\n'
        + '      ctc.region() {kind = "block", name = "layers.0"} {\n'
        + op_line("a", "x")
        + "      }\n    }\n"
        + "    ctc.return(%a)\n"
        + FOOTER
    )
    result = InlinePass(kind="block").run(module)
    assert regions(result) == [("bucket", "b0", ["a"])]
    assert regions(InlinePass(kind="cudagraph").run(module)) == regions(module)
