"""Every invalid IR input gets its expected, located message; never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ctc.errors import SourceError
from ctc.ir import parse_module

CORPUS = Path(__file__).with_name("invalid.ctc-corpus")
_EXPECT = re.compile(r"// expect (\d+):(\d+): (.*)")


def _sections() -> list[tuple[str, int, int, str]]:
    sections = CORPUS.read_text().split("// -----\n")[1:]
    cases = []
    for section in sections:
        expect_line, _, text = section.partition("\n")
        match = _EXPECT.fullmatch(expect_line)
        assert match, f"bad expect line: {expect_line!r}"
        cases.append((text.rstrip("\n"), int(match[1]), int(match[2]), match[3]))
    return cases


CASES = _sections()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize(
    ("text", "line", "column", "message"), CASES, ids=[f"case{i}" for i in range(len(CASES))]
)
def test_invalid_input_is_reported_at_its_location(
    text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(SourceError) as caught:
        parse_module(text, "bad.ctc")
    diagnostics = caught.value.diagnostics
    rendered = str(caught.value)
    assert any(message in d.message for d in diagnostics), rendered
    located = next(d for d in diagnostics if message in d.message)
    assert (located.line, located.column) == (line, column), rendered
    assert rendered.startswith(f"bad.ctc:{diagnostics[0].line}:{diagnostics[0].column}: error: ")
