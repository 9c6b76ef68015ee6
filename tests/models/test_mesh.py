"""Mesh specs: parsing, the IR mesh they give, and up-front refusals naming the dimension."""

from __future__ import annotations

import pytest

from ctc.errors import CtcError
from ctc.models.mesh import MeshSpec, ModelDims

LLAMA = ModelDims("llama3 debugmodel", heads=16, kv_heads=16, vocab=2048, experts=0, seq_len=2048)
DSV3 = ModelDims(
    "deepseek_v3 debugmodel", heads=16, kv_heads=16, vocab=2048, experts=8, seq_len=2048
)


def test_parse_orders_dimensions_canonically() -> None:
    spec = MeshSpec.parse("tp=4, dp_shard=2")
    assert spec.sizes == (("dp_shard", 2), ("tp", 4))
    assert str(spec) == "dp_shard=2,tp=4" and spec.world_size == 8
    assert spec.size("ep") == 1


def test_expert_parallel_adds_the_expert_mesh() -> None:
    spec = MeshSpec.parse("dp_shard=2,tp=2,ep=2")
    assert spec.world_size == 4
    assert spec.ir_dims() == [("dp_shard", 2), ("tp", 2), ("efsdp", 2), ("ep", 2)]
    assert MeshSpec.parse("dp_shard=2,ep=2").ir_dims() == [("dp_shard", 2), ("ep", 2)]
    hybrid = MeshSpec.parse("dp_replicate=2,dp_shard=2")
    assert hybrid.ir_dims() == [("dp_replicate", 2), ("dp_shard", 2)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pp=2", r"unknown mesh dimension 'pp' \(known: dp_replicate, dp_shard, tp, ep\)"),
        ("tp=2,tp=4", "mesh dimension 'tp' is given twice"),
        ("tp", "needs the form name=size"),
        ("tp=two", "needs an integer size, got 'two'"),
        ("tp=0", "must be at least 1, got 0"),
        ("", "the mesh is empty"),
    ],
)
def test_malformed_specs_are_refused(text: str, message: str) -> None:
    with pytest.raises(CtcError, match=message):
        MeshSpec.parse(text)


@pytest.mark.parametrize(
    ("text", "model", "message"),
    [
        ("tp=3", LLAMA, "tp=3 does not divide the 16 attention heads of llama3 debugmodel"),
        (
            "tp=32",
            ModelDims("m", heads=32, kv_heads=8, vocab=128, experts=0, seq_len=64),
            "tp=32 does not divide the 8 key/value heads of m",
        ),
        (
            "tp=4",
            ModelDims("m", heads=8, kv_heads=8, vocab=1002, experts=0, seq_len=64),
            "tp=4 does not divide the 1002 vocabulary entries of m: the embedding",
        ),
        (
            "tp=2",
            ModelDims("m", heads=8, kv_heads=8, vocab=64, experts=0, seq_len=65),
            "tp=2 does not divide the 65 sequence positions of m: sequence parallelism",
        ),
        ("dp_shard=2,tp=2,ep=2", LLAMA, "ep=2 needs a model with experts, and llama3"),
        ("dp_shard=2,tp=2,ep=3", DSV3, r"ep=3 must divide dp_shard x tp = 4"),
        ("dp_shard=8,ep=16", DSV3, r"ep=16 must divide dp_shard x tp = 8"),
        ("dp_shard=16,ep=16", DSV3, "ep=16 does not divide the 8 experts of deepseek_v3"),
    ],
)
def test_meshes_the_model_cannot_split_are_refused(
    text: str, model: ModelDims, message: str
) -> None:
    with pytest.raises(CtcError, match=message):
        MeshSpec.parse(text).check(model)


def test_world_size_must_match() -> None:
    with pytest.raises(CtcError, match=r"spans 8 ranks .* but the world has 4"):
        MeshSpec.parse("dp_shard=2,tp=4").check(LLAMA, world_size=4)
    MeshSpec.parse("dp_shard=2,tp=4").check(LLAMA, world_size=8)
