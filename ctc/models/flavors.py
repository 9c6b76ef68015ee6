"""Model names and flavors, mapped onto torchtitan 0.3.0's registries.

ctc follows the reference compiler toolkit's names: a flavor runs SDPA attention, and the same
flavor with ``_flex_attn`` runs FlexAttention (torchtitan 0.3.0 has no such flavor names and
defaults to flex, so ctc maps them here). Batch and sequence defaults are the flavor's training
defaults from torchtitan's config registry.
"""

from __future__ import annotations

from typing import Any

import attrs

from ctc.errors import CtcError

FLEX_SUFFIX = "_flex_attn"

# model -> torchtitan flavors (each also with FLEX_SUFFIX).
FLAVORS: dict[str, tuple[str, ...]] = {
    "llama3": ("debugmodel", "1B", "3B", "8B", "70B", "405B"),
    "deepseek_v3": ("debugmodel", "16B", "236B", "671B"),
}

# Flavors with a training config in torchtitan's registry (for the batch/sequence defaults);
# the others use their model's debugmodel config with their own model. llama3 405B's config
# converts its linears to float8, which needs torchao and an SM89+ GPU: it is read without its
# converters (ctc.compat.float8_config), and ctc captures the bf16 step.
TRAINING_CONFIGS: dict[tuple[str, str], str] = {
    ("llama3", "debugmodel"): "llama3_debugmodel",
    ("llama3", "8B"): "llama3_8b",
    ("llama3", "70B"): "llama3_70b",
    ("llama3", "405B"): "llama3_405b",
    ("deepseek_v3", "debugmodel"): "deepseek_v3_debugmodel",
    ("deepseek_v3", "16B"): "deepseek_v3_16b",
    ("deepseek_v3", "671B"): "deepseek_v3_671b",
}


@attrs.frozen
class Flavor:
    """A resolved flavor: torchtitan's model and flavor names and the attention backend."""

    model: str
    flavor: str
    attention: str  # "sdpa" or "flex"

    @property
    def name(self) -> str:
        return self.flavor + (FLEX_SUFFIX if self.attention == "flex" else "")


def flavor_names(model: str) -> list[str]:
    base = FLAVORS.get(model, ())
    return [name for flavor in base for name in (flavor, flavor + FLEX_SUFFIX)]


def resolve_flavor(model: str, flavor: str) -> Flavor:
    if model not in FLAVORS:
        raise CtcError(f"unknown model '{model}' (known: {', '.join(FLAVORS)})")
    base, attention = flavor, "sdpa"
    if flavor.endswith(FLEX_SUFFIX):
        base, attention = flavor[: -len(FLEX_SUFFIX)], "flex"
    if base not in FLAVORS[model]:
        raise CtcError(
            f"unknown flavor '{flavor}' of {model} (known: {', '.join(flavor_names(model))})"
        )
    return Flavor(model, base, attention)


def _module_names(model: str) -> tuple[str, str, str]:
    """(torchtitan config registry module, graph_trainer package, graph_trainer config fn)."""
    if model == "llama3":
        return (
            "torchtitan.models.llama3.config_registry",
            "torchtitan.experiments.graph_trainer.llama3",
            "graph_trainer_llama3_debugmodel",
        )
    return (
        "torchtitan.models.deepseek_v3.config_registry",
        "torchtitan.experiments.graph_trainer.deepseek_v3",
        "graph_trainer_deepseek_v3_debugmodel",
    )


def graph_trainer_config(flavor: Flavor) -> Any:
    """graph_trainer's training config for the flavor (its parallelism, training and compile
    settings), with the flavor's model spec and attention backend (no converters: see
    ``left_out_converters``)."""
    import importlib

    from torchtitan.experiments.graph_trainer.configs import (
        GraphTrainerCompileConfig,
        to_graph_trainer_config,
    )

    from ctc.compat import float8_config

    registry_module, package, debug_config = _module_names(flavor.model)
    graph_package = importlib.import_module(package)
    training_name = TRAINING_CONFIGS.get((flavor.model, flavor.flavor))
    if training_name is not None:
        base, _ = float8_config.call(registry_module, training_name)
        config = to_graph_trainer_config(base, graph_package.model_registry)
        config.compile = GraphTrainerCompileConfig(enable=True)
    else:
        config = getattr(importlib.import_module(package + ".config_registry"), debug_config)()
    config.model_spec = graph_package.model_registry(flavor.flavor, attn_backend=flavor.attention)
    return config


def left_out_converters(flavor: Flavor) -> list[str]:
    """The converters of torchtitan's training config for the flavor that ctc's capture leaves
    out: ``Float8LinearConverter`` for llama3 405B, whose float8 linears need torchao and an
    SM89+ GPU; ctc captures the bf16 step (``ctc.compat.float8_config``)."""
    from ctc.compat import float8_config

    training_name = TRAINING_CONFIGS.get((flavor.model, flavor.flavor))
    if training_name is None:
        return []
    return float8_config.call(_module_names(flavor.model)[0], training_name)[1]
