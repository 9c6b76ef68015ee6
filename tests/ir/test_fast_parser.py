"""The fast reader accepts a subset of lark's language and builds the same modules from it; every
error comes from lark, so it reads the same either way.

Compared on the golden inputs, the examples, generated modules, the invalid-input corpus and
random edits of valid texts. The golden inputs, examples and generated modules never fall back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctc.errors import SourceError
from ctc.ir import Module, parse_module, print_module
from ctc.ir.fast_parser import NotFast, read_fast
from ctc.ir.parser import PARSE_COUNTS
from tests.ir.strategies import modules
from tests.ir.test_invalid import CASES

ROOT = Path(__file__).parents[2]
HAND_WRITTEN = sorted((ROOT / "tests" / "golden" / "cases").glob("*.ctc")) + sorted(
    (ROOT / "examples").glob("*.ctc")
)


def _lark_outcome(text: str, verify_module: bool) -> Module | str:
    try:
        return parse_module(text, "t.ctc", verify_module, reader="lark")
    except SourceError as error:
        return str(error)


def _fast_outcome(text: str) -> Module | None:
    try:
        return read_fast(text)
    except NotFast:
        return None


@pytest.mark.parametrize("path", HAND_WRITTEN, ids=lambda p: p.name)
def test_hand_written_files_read_fast_and_the_same(path: Path) -> None:
    text = path.read_text()
    fast = read_fast(text)  # raises NotFast if it would fall back
    assert fast == _lark_outcome(text, verify_module=False)
    before = PARSE_COUNTS.fast
    assert parse_module(text) == fast
    assert PARSE_COUNTS.fast == before + 1


@settings(max_examples=150, deadline=None)
@given(modules())
def test_generated_modules_read_fast_and_the_same(module: Module) -> None:
    text = print_module(module)
    assert read_fast(text) == module
    assert _lark_outcome(text, verify_module=False) == module


@pytest.mark.parametrize(
    ("text", "line", "column", "message"), CASES, ids=[f"case{i}" for i in range(len(CASES))]
)
def test_invalid_inputs_get_lark_s_error(text: str, line: int, column: int, message: str) -> None:
    fast = _fast_outcome(text)
    lark_unverified = _lark_outcome(text, verify_module=False)
    if fast is not None:  # read, but the verifier refuses it
        assert fast == lark_unverified
    expected = _lark_outcome(text, verify_module=True)
    assert isinstance(expected, str)
    with pytest.raises(SourceError) as caught:
        parse_module(text, "t.ctc")
    assert str(caught.value) == expected


# Random edits of valid texts: whatever the edit, the fast reader either stops or reads what
# lark reads.
_SEEDS = [path.read_text() for path in HAND_WRITTEN] + [
    "module {a = [1, 2.5, -inf, nan, nan<0x7ff8000000000123>, true, none, #dtype<f32>]} {\n"
    '  func @f(%x: f32[2,u0, strides=[1,2]] {"k" = {}}) -> (f32[2], opaque<m>) {\n'
    '    %y, %z = x.y(%x, [%x, 1], none) {"a b" = "c\\"d"} : (f32[2], f32[3]) loc(seq = 1)\n'
    "    ctc.return(%y, %z)\n"
    "  }\n"
    "}\n"
]
_INSERTS = [
    *'{}[]()<>,:=%@^"#-. \n\t/',
    "none",
    "strides",
    "loc",
    "func",
    "module",
    "opaque",
    "1.5",
    "1e3",
    "-1",
    "nan",
    "inf",
    "// c\n",
    "f32[2]",
    "%x",
    "a.b",
    "\\",
    ", strides=[",
    "^bb0(",
    "{k = 1}",
    '"x"',
    "loc(seq = 1)",
    "e5",
    "u0",
]


@st.composite
def _edited_texts(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(text)))
        end = min(len(text), start + draw(st.integers(0, 4)))
        insert = draw(st.sampled_from(["", *_INSERTS]))
        text = text[:start] + insert + text[end:]
    return text


@settings(max_examples=600, deadline=None)
@given(_edited_texts())
def test_edited_texts_read_the_same_or_fall_back(text: str) -> None:
    fast = _fast_outcome(text)
    if fast is not None:
        assert fast == _lark_outcome(text, verify_module=False)
