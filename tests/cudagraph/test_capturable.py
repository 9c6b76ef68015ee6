"""What a CUDA graph cannot replay, refused from the IR alone by the ``cudagraph`` pass with the
first offending op (function, result name, module) named; and which arguments a graph keeps,
copies or passes (``input_plan``). Torch-free, from IR text."""

from __future__ import annotations

import pytest

from ctc.errors import CtcError
from ctc.ir import parse_module
from ctc.passes.cudagraph import (
    COPIED,
    PASSED,
    SAVED,
    STATIC,
    CudagraphPass,
    capture_problems,
    input_plan,
)

CLEAN_OPS = """
    %t = aten.t.default(%w) : f32[4,4, strides=[1,4]] loc(module = "lin", phase = "fwd")
    %y = aten.mm.default(%x, %t) : f32[2,4] loc(module = "lin", phase = "fwd")"""


def _module(
    ops: str, args: str = '%w: f32[4,4] {param = "lin.weight"}, %x: f32[2,4] {input = 0}'
) -> str:
    return f"""module {{
  func @fwd({args}) -> (f32[2,4]) {{{CLEAN_OPS}{ops}
    ctc.return(%y)
  }}
}}
"""


def _refusal(text: str) -> str:
    with pytest.raises(CtcError) as error:
        CudagraphPass().run(parse_module(text))
    return str(error.value)


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        (
            '\n    %s = aten._local_scalar_dense.default(%y) : float loc(module = "lin.scale")',
            "%s = aten._local_scalar_dense.default (module 'lin.scale') reads a tensor's "
            "value on the host (.item()): a replay would reuse the value read at capture",
        ),
        (
            '\n    %h = aten._to_copy.default(%y) {device = #device<cpu>} : f32[2,4] loc(module = "log")',
            "%h = aten._to_copy.default (module 'log') copies to unpinned host memory: such "
            "a copy cannot be captured",
        ),
        (
            "\n    %o = aten.ones.default() {device = #device<cpu>, size = [4]} : f32[4]",
            "%o = aten.ones.default makes a CPU tensor (f32[4]): CPU work runs once, at "
            "capture, not at each replay",
        ),
        (
            '\n    %m = aten.gt.Scalar(%y) {other = 0} : b8[2,4]\n    %i = aten.index.Tensor(%y, [%m]) : f32[u0] loc(module = "mask")',
            "%i = aten.index.Tensor (module 'mask') has a dynamic shape (f32[u0], symbol "
            "u0): a replay has the sizes of its capture",
        ),
    ],
    ids=["item", "unpinned-host-copy", "cpu-tensor", "dynamic-shape"],
)
def test_each_kind_of_uncapturable_op_is_refused_naming_it(ops: str, expected: str) -> None:
    message = _refusal(_module(ops))
    assert message == f"cannot capture @fwd in a CUDA graph: {expected}"


def test_symbolic_arguments_are_refused_first_and_host_ints_are_not() -> None:
    args = '%w: f32[4,4] {param = "lin.weight"}, %x: f32[s0,4] {input = 0}, %n: int {saved = 2}'
    text = _module("\n    %s = aten._local_scalar_dense.default(%y) : float", args)
    problems = capture_problems(parse_module(text).functions[0])
    assert [p.what for p in problems] == ["argument %x", "%s = aten._local_scalar_dense.default"]
    assert str(problems[0]) == (
        "@fwd: argument %x has a dynamic shape (f32[s0,4], symbol s0): a replay has the sizes of "
        "its capture"
    )
    assert _refusal(text).endswith("a replay has the sizes of its capture (1 more after it)")


def test_what_a_replay_can_redo_is_accepted() -> None:
    ops = (
        # A 0-d CPU constant (a kernel scalar), a pinned host copy, a GPU factory, collectives,
        # SDPA's static sizes (host ints) on a GPU.
        "\n    %c = aten.full.default() {device = #device<cpu>, fill_value = 2.0, size = []} : f32[]"
        "\n    %z = aten.mul.Tensor(%y, %c) : f32[2,4]"
        "\n    %p = aten._to_copy.default(%z) {device = #device<cpu>, pin_memory = true} : f32[2,4]"
        "\n    %g = aten.zeros.default() {device = #device<cuda:0>, size = [4]} : f32[4]"
        '\n    %r = coll.all_reduce(%z) {group = "dp", reduce_op = "sum", size = 1} : f32[2,4]'
        "\n    %v = coll.wait(%r) : f32[2,4]"
        "\n    %o, %lse, %cq, %ck, %mq, %mk, %seed, %offset, %debug = "
        "aten._scaled_dot_product_flash_attention.default(%v, %v, %v) {is_causal = true} : "
        "(f32[2,4], f32[2], i64[0], i64[0], int, int, i64[], i64[], f32[0])"
    )
    text = _module(ops).replace("module {", 'module {mesh = [["dp", 1]]} {')
    module = parse_module(text)
    assert capture_problems(module.functions[0]) == []
    marked = CudagraphPass().run(module)
    assert marked.functions[0].ops[0].attributes.get("kind").py == "cudagraph"


def test_sizes_inside_a_higher_order_ops_sub_graph_are_its_kernels_business() -> None:
    text = """module {
  func @fwd(%q: f32[1,1,4,8]) -> (f32[1,1,4,8]) {
    %f = higher_order.flex_attention(%q) : f32[1,1,4,8] loc(module = "attn") {
      ^bb0(%s: f32[], %b: i32[u0], %n: int):
        %k = aten._local_scalar_dense.default(%s) : float
        ctc.yield(%s)
    }
    ctc.return(%f)
  }
}
"""
    # A host read stays a host read in a sub-graph; sizes there are the kernel's.
    (problem,) = capture_problems(parse_module(text).functions[0])
    assert problem.what == "%k = aten._local_scalar_dense.default"


def test_input_plan_from_argument_attributes() -> None:
    text = """module {
  func @bwd(
      %p: f32[4] {desc = "SubclassGetAttrAOTInput(base=ParamAOTInput(target='w'), attr='_local_tensor')", param = "w"},
      %mesh: opaque<device_mesh> {desc = "SubclassGetAttrAOTInput(base=ParamAOTInput(target='w'), attr='device_mesh')"},
      %b: f32[4] {buffer = "rope_cos"},
      %x: f32[4] {input = 0, saved = 0},
      %a: f32[4] {saved = 1},
      %g: f32[] {tangent = 0},
      %plain: f32[4]
  ) -> (f32[4]) {
    ctc.return(%p)
  }
}
"""
    plan = input_plan(parse_module(text).functions[0])
    assert plan.kinds == (STATIC, PASSED, STATIC, SAVED, SAVED, COPIED, COPIED)
    assert plan.labels == (
        "%p (param 'w')",
        "%mesh",
        "%b (buffer 'rope_cos')",
        "%x (input 0)",
        "%a (saved 1)",
        "%g (tangent 0)",
        "%plain",
    )
    assert plan.indices(SAVED) == (3, 4)
