"""Flavor names follow the reference (FLAVOR is SDPA, FLAVOR_flex_attn FlexAttention) and map
onto torchtitan's registries; model sizes come from its configs."""

from __future__ import annotations

import pytest

from ctc.errors import CtcError
from ctc.models.flavors import Flavor, flavor_names, graph_trainer_config, resolve_flavor


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
