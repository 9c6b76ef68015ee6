"""Where two ranks' texts part (torch-free: the comparison of what ``first_difference``
gathers)."""

from __future__ import annotations

from ctc.ranks import first_line_apart


def test_thefirst_line_apart_is_named_with_both_versions() -> None:
    first = "module {\n  %ge = aten.ge.Scalar(%v) {other = 0}\n  %x = aten.neg(%v)\n}"
    second = first.replace("other = 0", "other = 1024")
    assert first_line_apart(first, second) == (
        "line 2 is `%ge = aten.ge.Scalar(%v) {other = 0}` on rank 0 and "
        "`%ge = aten.ge.Scalar(%v) {other = 1024}` there"
    )


def test_a_longer_text_names_the_end() -> None:
    assert first_line_apart("a\nb", "a\nb\nc") == "line 3 is `(end)` on rank 0 and `c` there"
