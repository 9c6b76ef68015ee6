"""Resolving process groups to mesh dimensions: by name, by ranks, and the refusals."""

from __future__ import annotations

import pytest

from ctc.errors import CtcError
from ctc.frontend_fx.groups import MeshLayout, RankGrid

# A (dp_shard=2, tp=4) grid over ranks 0..7, its axes' groups named "10" and "20".
DENSE = RankGrid(
    axes=(("dp_shard",), ("tp",)),
    sizes=(2, 4),
    ranks=tuple(range(8)),
    group_names=("10", "20"),
)


def layout(rank: int = 0) -> MeshLayout:
    return MeshLayout([("dp_shard", 2), ("tp", 4)], [DENSE], rank=rank)


def test_named_groups_resolve_to_their_axis() -> None:
    assert layout().resolve("10") == ("dp_shard",)
    assert layout().resolve("20") == ("tp",)
    assert layout().mesh_attribute() == [["dp_shard", 2], ["tp", 4]]


def test_unnamed_groups_resolve_by_their_ranks() -> None:
    assert layout().resolve("30", ranks=frozenset({0, 4})) == ("dp_shard",)
    assert layout(rank=5).resolve("31", ranks=frozenset({4, 5, 6, 7})) == ("tp",)
    assert layout().resolve("32", ranks=frozenset(range(8))) == ("dp_shard", "tp")


def test_group_names_is_the_inverse_map() -> None:
    resolved = layout()
    resolved.resolve("33", ranks=frozenset(range(8)))
    assert resolved.group_names() == {("dp_shard", "tp"): "33", ("dp_shard",): "10", ("tp",): "20"}


def test_a_group_outside_the_mesh_is_refused() -> None:
    with pytest.raises(CtcError, match=r"process group '40' \(ranks \[0, 1\]\) is no dimension"):
        layout().resolve("40", ranks=frozenset({0, 1}))


def test_repeated_dimension_names_are_refused() -> None:
    with pytest.raises(CtcError, match="repeat a name"):
        MeshLayout([("tp", 2), ("tp", 2)], [])


def test_the_group_of_an_axis_around_a_rank() -> None:
    assert DENSE.group_of((1,), 6) == frozenset({4, 5, 6, 7})
    assert DENSE.group_of((0,), 6) == frozenset({2, 6})
    assert DENSE.group_of((0,), 9) is None
