"""Reading pipeline strings: the accepted syntax, literals, sizes, canonical printing."""

from __future__ import annotations

import pytest

from ctc.dsl import parse_pipeline
from ctc.dsl.syntax import parse_syntax
from ctc.passes.options import Size, Word
from tests.example_passes import TEST_REGISTRY


def canonical(text: str, explicit: bool = False) -> str:
    return parse_pipeline(text, check=False, registry=TEST_REGISTRY).format(explicit=explicit)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("dce", "dce"),
        ("dce()", "dce"),
        (" dce , dce ", "dce,dce"),
        ("outline(kind=block)", "outline(kind=block)"),
        ("outline( kind = block )", "outline(kind=block)"),
        ('outline(kind="block")', "outline(kind=block)"),
        ("example(block)", "example(block)"),
        ("example(mode=block)", "example(block)"),
        ("example(block, prefetch=0)", "example(block)"),
        ("example(block, prefetch=2)", "example(block, prefetch=2)"),
        ("example(auto, cap=25MB)", "example(auto, cap=25MB)"),
        ("example(auto, cap=none)", "example(auto)"),
        ("example(auto, memory_budget=0.5)", "example(auto, memory_budget=0.5)"),
        ("example(auto, memory_budget=1)", "example(auto, memory_budget=1.0)"),
        ("example(auto, memory_budget=64GiB)", "example(auto, memory_budget=64GiB)"),
        ("statistics(json=true)", "statistics(json=true)"),
        ("statistics(json=false)", "statistics"),
        ('statistics(file="out dir/s.json")', 'statistics(file="out dir/s.json")'),
        ("statistics(file=stats)", "statistics(file=stats)"),
        ('statistics(file="true")', 'statistics(file="true")'),
        ("fwd(dce)", "fwd(dce)"),
        ("fwd(dce),fwd(dce)", "fwd(dce,dce)"),
        ("fwd(dce, inline(kind=all)),bwd(dce)", "fwd(dce,inline(kind=all)),bwd(dce)"),
        ("dce,fwd(dce),dce", "dce,fwd(dce),dce"),
        ("inductor(regions)", "inductor(regions)"),
        ("fwd(inductor(scope=all))", "fwd(inductor(all))"),
        ("cudagraph", "cudagraph"),
        ('example(auto, tags=[a, "b c", "none"])', 'example(auto, tags=[a, "b c", "none"])'),
        ("example(auto, tags=[], flag=true)", "example(auto, flag=true)"),
    ],
)
def test_canonical_text(text: str, expected: str) -> None:
    assert canonical(text) == expected
    assert canonical(expected) == expected


def test_explicit_shows_every_option() -> None:
    assert canonical("example(block)", explicit=True) == (
        "example(block, prefetch=0, cap=none, memory_budget=none, tags=[], flag=false)"
    )
    assert canonical("statistics", explicit=True) == "statistics(json=false, file=none)"
    assert canonical("dce", explicit=True) == "dce"
    explicit = canonical("fwd(example(auto, cap=1GB))", explicit=True)
    assert parse_pipeline(explicit, check=False, registry=TEST_REGISTRY) == parse_pipeline(
        "fwd(example(auto, cap=1GB))", check=False, registry=TEST_REGISTRY
    )


@pytest.mark.parametrize(
    ("number", "unit", "size_bytes", "printed"),
    [
        ("25", "MB", 25 * 10**6, "25MB"),
        ("24", "MiB", 24 * 2**20, "24MiB"),
        ("1.5", "GB", 1_500_000_000, "1.5GB"),
        ("1.25", "MiB", 1_310_720, "1.25MiB"),
        ("0.5", "KiB", 512, "0.5KiB"),
        ("100", "B", 100, "100B"),
        ("0", "MB", 0, "0MB"),
        ("1", "TiB", 2**40, "1TiB"),
        ("1.000", "KB", 1000, "1KB"),
    ],
)
def test_sizes_keep_their_unit(number: str, unit: str, size_bytes: int, printed: str) -> None:
    size = Size.parse(number, unit)
    assert size == Size(size_bytes, unit)
    assert str(size) == printed


def test_tiny_binary_fraction_prints_exactly() -> None:
    size = Size(1, "TiB")
    assert str(size) == "0.0000000000009094947017729282379150390625TiB"
    assert Size.parse("0.0000000000009094947017729282379150390625", "TiB") == size


def test_syntax_tree_keeps_positions_and_literals() -> None:
    (item,) = parse_syntax('p(a, k=[1, 2.5, 3MB, "s", w], f(x))')
    assert item.name == "p"
    first, keyword, call = item.arguments or ()
    assert first.value.literal == Word("a")
    assert first.value.position.column == 3
    assert keyword.key == "k" and keyword.key_position is not None
    assert keyword.key_position.column == 6
    assert keyword.value.literal == (1, 2.5, Size(3 * 10**6, "MB"), "s", Word("w"))
    assert keyword.value.items is not None and keyword.value.items[2].position.column == 17
    assert call.value.literal is None and call.value.item is not None
    assert call.value.item.name == "f"


def test_numbers() -> None:
    (item,) = parse_syntax("p(1, -2, +3, 1.5, 1e3, -1.5e-2, .5)")
    literals = [argument.value.literal for argument in item.arguments or ()]
    assert literals == [1, -2, 3, 1.5, 1000.0, -0.015, 0.5]
    assert [type(v) for v in literals] == [int, int, int, float, float, float, float]


def test_multiline_pipeline_positions() -> None:
    with pytest.raises(Exception) as caught:
        parse_pipeline("dce,\n  bogus", check=False)
    assert "<pipeline>:2:3:" in str(caught.value)
