"""A pending collective result may be sized before its wait (expert-parallel graphs ask an
all_to_all's output for its length): size queries are allowed, other uses are not."""

from __future__ import annotations

from ctc.ir import parse_module, verify

TEXT = """module {{mesh = [["ep", 2]]}} {{
  func @joint(%x: f32[4,8], %n: int) -> (f32[n,8]) {{
    %a = coll.all_to_all(%x) {{group = "ep", size = 2}} : f32[n,8]
    %s = {use}(%a) {{dim = 0}} : int
    %w = coll.wait(%a) : f32[n,8]
    ctc.return(%w)
  }}
}}
"""


def test_size_queries_may_read_a_pending_result() -> None:
    module = parse_module(TEXT.format(use="aten.sym_size.int"))
    assert verify(module) == []


def test_other_ops_may_not() -> None:
    from ctc.errors import SourceError

    try:
        parse_module(TEXT.format(use="aten.relu.default"))
    except SourceError as error:
        assert "pending collective result; only coll.wait may use it" in str(error)
    else:
        raise AssertionError("a relu of a pending result verified")
