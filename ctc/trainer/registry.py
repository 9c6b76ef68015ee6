"""torchtitan trainer configurations for ctc: ``CtcTrainer.Config`` per model and flavor.

A config is graph_trainer's for the flavor (its model with SimpleFSDP, TP and EP parallelize
functions, its training defaults) with ctc's sections, ctc's offline corpus and tokenizer
(``ctc.data``), the plain cross-entropy loss, no activation checkpointing (the joint graph is
captured whole), torchtitan's
own CUDA graphs off (ctc's ``cudagraph`` pass does that), and a metrics line every step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ctc.models.flavors import flavor_names, graph_trainer_config, resolve_flavor
from ctc.trainer.config import CtcCompileConfig, CtcRunConfig
from ctc.trainer.trainer import CtcTrainer

# The tokenizer's vocabulary: the debug models' size, which every larger vocabulary holds.
TOKENIZER_VOCAB = 2048


def trainer_config(model: str, flavor: str) -> CtcTrainer.Config:
    """The configuration ``--module ctc.<model> --config ctc_<model>_<flavor>`` names."""
    from torchtitan.components.loss import CrossEntropyLoss
    from torchtitan.models.common.config_utils import decoder_vocab_size

    from ctc.data import prepare_text_assets, torchtitan_data_settings

    resolved = resolve_flavor(model, flavor)
    base = graph_trainer_config(resolved)
    wanted = {f.name for f in dataclasses.fields(CtcTrainer.Config)} - {"compile", "ctc"}
    values = {f.name: getattr(base, f.name) for f in dataclasses.fields(base) if f.name in wanted}
    config = CtcTrainer.Config(**values, compile=CtcCompileConfig(), ctc=CtcRunConfig())
    config.activation_checkpoint = None  # torchtitan's "none"
    # The plain loss: torchtitan's chunked one runs its own backward, which no capture can hold.
    config.loss = CrossEntropyLoss.Config(global_vocab_size=decoder_vocab_size(config.model_spec))
    config.training.disable_cuda_graphs = True
    config.metrics.log_freq = 1
    # The first step captures and compiles (minutes on a loaded CPU), and ranks sharing few
    # cores run steps slowly: torchtitan's GPU-sized timeouts would end such runs.
    config.comm.init_timeout_seconds = max(config.comm.init_timeout_seconds, 3600)
    config.comm.train_timeout_seconds = max(config.comm.train_timeout_seconds, 1800)
    vocabulary = min(TOKENIZER_VOCAB, decoder_vocab_size(config.model_spec))
    assets = prepare_text_assets(vocab_size=vocabulary)
    torchtitan_data_settings(assets.corpus_path, assets.tokenizer_path).apply(config)
    return config


def config_functions(model: str) -> dict[str, Callable[[], CtcTrainer.Config]]:
    """``ctc_<model>_<flavor>`` -> a function building that configuration, for every flavor
    (each also as ``<flavor>_flex_attn``, FlexAttention)."""

    def make(flavor: str) -> Callable[[], CtcTrainer.Config]:
        def build() -> CtcTrainer.Config:
            return trainer_config(model, flavor)

        build.__name__ = build.__qualname__ = f"ctc_{model}_{flavor}"
        build.__doc__ = f"{model} {flavor} trained through ctc (torchtitan's trainer)."
        return build

    return {f"ctc_{model}_{flavor}": make(flavor) for flavor in flavor_names(model)}
