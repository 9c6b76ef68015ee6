"""The reference system's pass names: expansions, combinations from MISSION.md, error locations."""

from __future__ import annotations

import pytest

from ctc.dsl import ALIASES, parse_pipeline
from ctc.errors import SourceError
from ctc.passes.base import STAGES
from ctc.passes.registry import PASSES
from tests.example_passes import TEST_REGISTRY

# The pass columns of MISSION.md's table, as the reference system spelled them.
MISSION_ROWS = {
    "4 auto bucketing + reordering": (
        "autobucketing_reordering",
        "reshard_after_forward,bucket(auto),reorder",
    ),
    "5 transformer-block bucketing": (
        "transformer_block_bucketing",
        "reshard_after_forward,bucket(block)",  # prefetch=1 is bucket's default
    ),
    "7 auto bucketing + regional inductor": (
        "autobucketing_reordering,regional_inductor",
        "reshard_after_forward,bucket(auto),reorder,inductor(regions)",
    ),
    "8 block bucketing + regional inductor": (
        "transformer_block_bucketing,regional_inductor",
        "reshard_after_forward,bucket(block),inductor(regions)",
    ),
    "9 block bucketing + regional inductor + cudagraph": (
        "transformer_block_bucketing,regional_inductor,cudagraph",
        "reshard_after_forward,bucket(block),inductor(regions),cudagraph",
    ),
}


@pytest.mark.parametrize(("names", "expansion"), MISSION_ROWS.values(), ids=MISSION_ROWS.keys())
def test_mission_rows_expand_canonically(names: str, expansion: str) -> None:
    """The canonical text of each row, with its passes as declared (``TEST_REGISTRY``) and as
    they are now (the real registry, whether or not they have landed)."""
    pipeline = parse_pipeline(names, registry=TEST_REGISTRY)
    assert str(pipeline) == expansion
    assert parse_pipeline(expansion, registry=TEST_REGISTRY) == pipeline
    # The expansion does not depend on which passes have landed.
    assert str(parse_pipeline(names, check=False)) == expansion


@pytest.mark.parametrize(("names", "expansion"), MISSION_ROWS.values(), ids=MISSION_ROWS.keys())
def test_mission_rows_bind_to_cuda(names: str, expansion: str) -> None:
    parse_pipeline(names, registry=TEST_REGISTRY, device="cuda")


def test_only_the_cudagraph_row_is_refused_on_cpu() -> None:
    for names, _ in MISSION_ROWS.values():
        if "cudagraph" not in names:
            parse_pipeline(names, registry=TEST_REGISTRY, device="cpu")
    names = MISSION_ROWS["9 block bucketing + regional inductor + cudagraph"][0]
    with pytest.raises(SourceError) as caught:
        parse_pipeline(names, registry=TEST_REGISTRY, device="cpu")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.column == names.index("cudagraph") + 1
    assert "needs a cuda target, but the pipeline is bound to cpu" in diagnostic.message


def test_aliases_scope_to_a_stage() -> None:
    pipeline = parse_pipeline(
        "fwd(regional_inductor),bwd(regional_inductor)", registry=TEST_REGISTRY
    )
    assert str(pipeline) == "fwd(inductor(regions)),bwd(inductor(regions))"


def test_an_error_inside_an_expansion_points_at_the_alias() -> None:
    text = "dce,  joint(autobucketing_reordering,regional_inductor)"
    with pytest.raises(SourceError) as caught:
        parse_pipeline(text, registry=TEST_REGISTRY)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.column == text.index("regional_inductor") + 1
    assert diagnostic.message == (
        "pass 'inductor' does not work on stage joint (it works on: fwd, bwd) "
        "(in the expansion of alias 'regional_inductor': inductor(regions))"
    )
    rendered = str(caught.value).splitlines()
    assert rendered[2] == "  " + " " * text.index("regional_inductor") + "^"


def test_conflict_between_two_aliases_points_at_the_second() -> None:
    text = "autobucketing_reordering,transformer_block_bucketing"
    with pytest.raises(SourceError) as caught:
        parse_pipeline(text, registry=TEST_REGISTRY)
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.column == text.index("transformer") + 1
    assert "conflicts with 'bucket(auto)' (column 1)" in diagnostic.message


def test_alias_table_is_sound() -> None:
    for alias, expansion in ALIASES.items():
        assert alias not in STAGES
        # An alias never hides a pass, except the one spelled like the pass it stands for.
        assert alias not in PASSES or expansion == alias
        pipeline = parse_pipeline(expansion, check=False)
        assert parse_pipeline(str(pipeline), check=False) == pipeline
