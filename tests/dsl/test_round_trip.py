"""Round trips of generated pipelines: ``parse(print(p)) == p``, in every spelling of ``p``."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ctc.dsl import PassEntry, Pipeline, parse_pipeline
from ctc.passes.options import (
    SIZE_UNITS,
    AnyOf,
    BoolOption,
    ChoiceOption,
    FloatOption,
    IntOption,
    ListOption,
    OptionalOption,
    OptionKind,
    OptionSpec,
    ProfileOption,
    Size,
    SizeOption,
    StrOption,
)
from ctc.schedule.profile import PROFILES
from tests.example_passes import TEST_REGISTRY

NAMES = TEST_REGISTRY.names()


def values(kind: OptionKind) -> st.SearchStrategy[Any]:
    """Valid values of an option kind."""
    if isinstance(kind, IntOption):
        return st.integers(kind.minimum, kind.maximum)
    if isinstance(kind, FloatOption):
        return st.floats(
            kind.minimum,
            kind.maximum,
            exclude_min=kind.exclusive_minimum,
            allow_nan=False,
            allow_infinity=False,
        )
    if isinstance(kind, BoolOption):
        return st.booleans()
    if isinstance(kind, StrOption):
        return st.text(max_size=12)
    if isinstance(kind, ChoiceOption):
        return st.sampled_from(kind.choices)
    if isinstance(kind, SizeOption):
        return st.builds(
            Size, st.integers(max(kind.minimum, 0), 2**50), st.sampled_from(list(SIZE_UNITS))
        )
    if isinstance(kind, ListOption):
        return st.lists(values(kind.item), max_size=3).map(tuple)
    if isinstance(kind, AnyOf):
        return st.one_of([values(k) for k in kind.kinds])
    if isinstance(kind, OptionalOption):
        return st.none() | values(kind.kind)
    if isinstance(kind, ProfileOption):
        return st.sampled_from(list(PROFILES))
    raise AssertionError(f"no strategy for {kind}")


@st.composite
def entries(draw: st.DrawFn) -> PassEntry:
    cls = TEST_REGISTRY.pass_class(draw(st.sampled_from(NAMES)))
    options = {o.name: draw(values(o.kind)) for o in cls.option_specs()}
    stage = draw(st.none() | st.sampled_from(cls.stages))
    return PassEntry(cls(**options), stage)


pipelines = st.lists(entries(), max_size=6).map(lambda e: Pipeline(tuple(e)))


@settings(max_examples=300, deadline=None)
@given(pipelines, st.booleans())
def test_print_then_parse_gives_the_same_pipeline(pipeline: Pipeline, explicit: bool) -> None:
    text = pipeline.format(explicit=explicit)
    parsed = parse_pipeline(text, check=False, registry=TEST_REGISTRY)
    assert parsed == pipeline
    assert parsed.format(explicit=explicit) == text


def _messy_value(draw: st.DrawFn, spec: OptionSpec, value: Any) -> str:
    text = spec.kind.format(value)
    if isinstance(value, str) and draw(st.booleans()):
        return json.dumps(value)  # a bare word may always be quoted
    return text


@st.composite
def messy_texts(draw: st.DrawFn, pipeline: Pipeline) -> str:
    """Another spelling of the same pipeline: spaces, keywords for positional options, defaults
    spelled out, one stage(...) per entry."""
    space = st.sampled_from(["", " ", "  ", "\t"])
    parts = []
    for entry in pipeline.entries:
        arguments = []
        keyword_used = False
        for spec in entry.pass_.option_specs():
            value = entry.option(spec.name)
            if not spec.required and value == spec.default and draw(st.booleans()):
                keyword_used = True  # a later positional option would land in this one's place
                continue
            keyword = keyword_used or not spec.positional or draw(st.booleans())
            keyword_used = keyword_used or keyword
            key = f"{spec.name}{draw(space)}={draw(space)}" if keyword else ""
            arguments.append(key + _messy_value(draw, spec, value))
        text = entry.name
        if arguments or draw(st.booleans()):
            text += "(" + f",{draw(space)}".join(arguments) + ")"
        if entry.stage is not None:
            text = f"{entry.stage}({draw(space)}{text}{draw(space)})"
        parts.append(draw(space) + text + draw(space))
    return ",".join(parts)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_spelling_parses_to_the_same_pipeline(data: st.DataObject) -> None:
    pipeline = data.draw(pipelines)
    text = data.draw(messy_texts(pipeline))
    assert parse_pipeline(text, check=False, registry=TEST_REGISTRY) == pipeline


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**60), st.sampled_from(list(SIZE_UNITS)))
def test_sizes_round_trip(size_bytes: int, unit: str) -> None:
    size = Size(size_bytes, unit)
    number = str(size).removesuffix(unit)
    assert Size.parse(number, unit) == size
