"""Flavor names follow the reference (FLAVOR is SDPA, FLAVOR_flex_attn FlexAttention) and map
onto torchtitan's registries; model sizes come from its configs."""

from __future__ import annotations

import pytest

from ctc.errors import CtcError
from ctc.models.flavors import Flavor, flavor_names, graph_trainer_config, resolve_flavor
from ctc.models.shapes import SHAPES, TINY_SHAPE


def test_flavor_names_map_to_attention_backends() -> None:
    assert resolve_flavor("llama3", "debugmodel") == Flavor("llama3", "debugmodel", "sdpa")
    flex = resolve_flavor("llama3", "debugmodel_flex_attn")
    assert flex == Flavor("llama3", "debugmodel", "flex") and flex.name == "debugmodel_flex_attn"
    assert resolve_flavor("deepseek_v3", "16B").attention == "sdpa"
    assert "70B_flex_attn" in flavor_names("llama3")


def test_unknown_models_and_flavors_name_the_known_ones() -> None:
    with pytest.raises(CtcError, match=r"unknown model 'gpt' \(known: llama3, deepseek_v3\)"):
        resolve_flavor("gpt", "debugmodel")
    with pytest.raises(CtcError, match=r"unknown flavor '16B' of llama3 \(known: debugmodel,"):
        resolve_flavor("llama3", "16B")


def test_configs_carry_the_backend_and_the_training_defaults() -> None:
    from torchtitan.models.common.attention import ScaledDotProductAttention

    from ctc.models.torchtitan import model_dims

    sdpa = graph_trainer_config(resolve_flavor("llama3", "debugmodel"))
    inner = sdpa.model_spec.model.layers[0].attention.inner_attention
    assert isinstance(inner, ScaledDotProductAttention.Config)
    flex = graph_trainer_config(resolve_flavor("llama3", "debugmodel_flex_attn"))
    assert not isinstance(
        flex.model_spec.model.layers[0].attention.inner_attention, ScaledDotProductAttention.Config
    )
    big = graph_trainer_config(resolve_flavor("llama3", "8B"))
    assert (big.training.local_batch_size, big.training.seq_len) == (1, 8192)
    dims = model_dims(big.model_spec.model, "llama3 8B", 8192)
    assert (dims.heads, dims.kv_heads, dims.vocab, dims.experts) == (32, 8, 128256, 0)
    moe = graph_trainer_config(resolve_flavor("deepseek_v3", "debugmodel")).model_spec.model
    assert model_dims(moe, "deepseek_v3", 2048).experts == 8


@pytest.mark.parametrize("model", ["llama3", "deepseek_v3"])
def test_the_debugmodel_shapes_match_torchtitan(model: str) -> None:
    from tests.models.torchtitan_shapes import derive_shape

    assert SHAPES[(model, "debugmodel")] == derive_shape(model, "debugmodel")


@pytest.mark.slow
def test_every_flavor_shape_matches_torchtitan() -> None:
    """ctc.models.shapes is a copy; `python -m tests.models.torchtitan_shapes` regenerates it."""
    from tests.models.torchtitan_shapes import all_shapes

    assert all_shapes() == SHAPES


def test_the_tiny_shape_matches_the_tiny_model() -> None:
    from ctc.models import tiny

    rows = dict(TINY_SHAPE.fsdp_rows) | dict(TINY_SHAPE.fsdp_tp_rows)
    assert rows == {"model dimension": tiny.DIM, "hidden size": tiny.HIDDEN}
    assert TINY_SHAPE.parameters == sum(p.numel() for p in tiny.TinyStep().parameters())
    assert TINY_SHAPE.batch == tiny.BATCH


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "mesh"), [("llama3", "dp_shard=2,tp=2"), ("deepseek_v3", "dp_shard=2,tp=2,ep=2")]
)
def test_the_rows_each_parallelism_splits_are_the_built_models(model: str, mesh: str) -> None:
    """The placements of the parallelized model (fake tensors) split by rows exactly the
    parameters the table says: fsdp alone, or fsdp and tp together."""
    from torch.distributed.tensor import Shard
    from torch.distributed.tensor.placement_types import _StridedShard

    from ctc.models.torchtitan import build_step
    from tests.models.torchtitan_shapes import EXPERTS, ROW_NAMES, parameter_key

    shape = SHAPES[(model, "debugmodel")]
    step = build_step(model, "debugmodel", mesh, batch=1, seq_len=64, fake=True)
    split: dict[str, set[tuple[str, int]]] = {"fsdp": set(), "fsdp_tp": set()}
    for name, parameter in step.module.named_parameters():
        key = parameter_key(name)
        if EXPERTS.search(key):
            continue
        row_splitters = {
            mesh_name
            for mesh_name, placement in zip(
                parameter.device_mesh.mesh_dim_names, parameter.placements, strict=True
            )
            # SimpleFSDP shards rows that TP has split with a strided shard
            if isinstance(placement, Shard | _StridedShard) and placement.dim == 0
        }
        kind = "fsdp_tp" if "tp" in row_splitters else "fsdp"
        assert "fsdp" in row_splitters, f"{name} is not sharded by rows over dp_shard"
        split[kind].add((ROW_NAMES[key], int(parameter.shape[0])))
    assert split["fsdp"] == set(shape.fsdp_rows)
    assert split["fsdp_tp"] == set(shape.fsdp_tp_rows)
