"""Pass options: declaration, checking of Python-built passes, printing back as pipeline text."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import pytest

from ctc.passes.base import Pass
from ctc.passes.inline import InlinePass
from ctc.passes.options import (
    AnyOf,
    ChoiceOption,
    FloatOption,
    IntOption,
    ListOption,
    OptionalOption,
    OptionValueError,
    Size,
    SizeOption,
    StrOption,
    Word,
    option,
    options_of,
)
from ctc.passes.outline import OutlinePass
from ctc.passes.statistics import StatisticsPass
from tests.example_passes import ExamplePass


def test_str_of_a_pass_is_its_pipeline_text() -> None:
    assert str(ExamplePass(mode="block", prefetch=1)) == "example(block, prefetch=1)"
    example = ExamplePass(mode="auto", cap=Size(25 * 10**6, "MB"), tags=("x", "y z"))
    assert str(example) == 'example(auto, cap=25MB, tags=[x, "y z"])'
    assert ExamplePass(mode="auto").pipeline_text(explicit=True) == (
        "example(auto, prefetch=0, cap=none, memory_budget=none, tags=[], flag=false)"
    )
    assert str(OutlinePass(kind="block")) == "outline(kind=block)"
    assert str(StatisticsPass()) == "statistics"
    assert str(StatisticsPass(file="a b")) == 'statistics(file="a b")'


def test_python_built_passes_are_checked() -> None:
    with pytest.raises(ValueError, match="option 'kind' of pass 'outline': expected one of"):
        OutlinePass(kind="blocks")
    with pytest.raises(ValueError, match=r"-1 is out of range: expected an int >= 0"):
        ExamplePass(mode="block", prefetch=-1)
    with pytest.raises(ValueError, match="expected true or false"):
        StatisticsPass(json=1)  # type: ignore[arg-type]
    assert InlinePass(kind="all").kind == "all"


def test_fields_must_be_declared_as_options() -> None:
    @attrs.frozen
    class Undeclared(Pass):
        name: ClassVar[str] = "undeclared"
        level: int = 0

    with pytest.raises(TypeError, match="not declared with option"):
        options_of(Undeclared)


def test_positional_options_lead() -> None:
    @attrs.frozen
    class Misordered(Pass):
        name: ClassVar[str] = "misordered"
        first: int = option(IntOption(), default=0, doc="")
        second: int = option(IntOption(), default=0, doc="", positional=True)

    with pytest.raises(TypeError, match="positional options must come before"):
        options_of(Misordered)


def test_positional_defaults_print_only_when_a_later_one_must() -> None:
    @attrs.frozen
    class Two(Pass):
        name: ClassVar[str] = "two"
        first: int = option(IntOption(), default=0, doc="", positional=True)
        second: int = option(IntOption(), default=0, doc="", positional=True)
        third: int = option(IntOption(), default=0, doc="")

    assert str(Two()) == "two"
    assert str(Two(first=1)) == "two(1)"
    assert str(Two(second=2)) == "two(0, 2)"
    assert str(Two(third=3)) == "two(third=3)"


@pytest.mark.parametrize(
    ("kind", "literal", "value"),
    [
        (IntOption(), 3, 3),
        (FloatOption(), 3, 3.0),
        (StrOption(), Word("abc"), "abc"),
        (StrOption(), "a b", "a b"),
        (ChoiceOption(("x", "y")), "y", "y"),
        (SizeOption(), Size(5, "B"), Size(5, "B")),
        (ListOption(IntOption()), (1, 2), (1, 2)),
        (OptionalOption(IntOption()), Word("none"), None),
        (AnyOf((SizeOption(), FloatOption(0.0, 1.0))), 0.5, 0.5),
    ],
)
def test_kinds_convert_literals(kind: Any, literal: object, value: object) -> None:
    assert kind.convert(literal) == value
    assert kind.check(value) is None


def test_list_errors_name_the_item() -> None:
    with pytest.raises(OptionValueError) as caught:
        ListOption(IntOption(minimum=0)).convert((1, 2, -3))
    assert caught.value.path == (2,)
    assert "-3 is out of range" in caught.value.message


def test_floats_must_be_finite() -> None:
    assert FloatOption().check(float("inf")) is not None
    assert FloatOption().check(float("nan")) is not None
