"""Training from IR text: a file is checked against the captured step's boundary, and the first
difference is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc.errors import CtcError
from ctc.frontend_fx.match import check_same_step
from ctc.ir import Module, parse_module

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_block_fsdp.ctc"


def _captured_and_edited(old: str, new: str) -> tuple[Module, Module]:
    text = EXAMPLE.read_text()
    assert old in text
    return parse_module(text, "captured"), parse_module(text.replace(old, new, 1), "step.ctc")


def test_the_same_boundary_with_another_body_is_accepted() -> None:
    captured, given = _captured_and_edited("// Two transformer", "// An edited comment. Two")
    check_same_step(given, captured, "step.ctc")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '{param = "layers.0.attention.wq.weight"}',
            '{param = "layers.0.attention.wk.weight"}',
            "step.ctc: argument 1 of @joint (%l0_wq) has attributes",
        ),
        (
            'module {mesh = [["dp_shard", 2]]}',
            'module {mesh = [["dp_shard", 2], ["tp", 1]]}',
            "step.ctc is for the mesh dp_shard=2,tp=1, and the model runs on dp_shard=2",
        ),
        ("func @joint(", "func @step(", "step.ctc has no @joint to train (functions: step"),
    ],
    ids=["parameter-name", "mesh", "no-joint"],
)
def test_a_different_boundary_is_refused_with_the_first_difference(
    old: str, new: str, message: str
) -> None:
    captured, given = _captured_and_edited(old, new)
    with pytest.raises(CtcError) as error:
        check_same_step(given, captured, "step.ctc")
    assert message in str(error.value)
