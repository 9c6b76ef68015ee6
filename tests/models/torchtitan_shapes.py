"""Derives ``ctc.models.shapes.SHAPES`` from torchtitan, to check the torch-free table against it
(tests/models/test_flavors.py) and to regenerate it when torchtitan changes:

    python -m tests.models.torchtitan_shapes      # prints the SHAPES table

The model is built on the meta device (no memory) from graph_trainer's config of the flavor.
Which parameters tensor parallelism splits by rows is torchtitan's TP plan
(``torchtitan/models/*/sharding.py``: column-parallel projections, the embedding and the output
layer); a slow test checks it against the placements of a parallelized debugmodel.
"""

from __future__ import annotations

import re
from typing import Any

from ctc.models.flavors import FLAVORS, graph_trainer_config, resolve_flavor
from ctc.models.shapes import FlavorShape

# Parameter name (layer numbers removed) -> what its first dimension is, in refusal messages.
ROW_NAMES = {
    "tok_embeddings.weight": "vocabulary",
    "lm_head.weight": "vocabulary",
    "norm.weight": "model dimension",
    "attention_norm.weight": "model dimension",
    "ffn_norm.weight": "model dimension",
    "attention.wo.weight": "model dimension",
    "feed_forward.w2.weight": "model dimension",
    "moe.shared_experts.w2.weight": "model dimension",
    "attention.qkv_linear.wqkv.weight": "fused query/key/value rows",
    "attention.wq.weight": "query projection rows",
    "attention.wq_a.weight": "query low-rank dimension",
    "attention.q_norm.weight": "query low-rank dimension",
    "attention.wq_b.weight": "query projection rows",
    "attention.wkv_a.weight": "key/value low-rank rows",
    "attention.kv_norm.weight": "key/value low-rank dimension",
    "attention.wkv_b.weight": "key/value projection rows",
    "feed_forward.w1.weight": "feed-forward hidden size",
    "feed_forward.w3.weight": "feed-forward hidden size",
    "moe.shared_experts.w1.weight": "shared-expert hidden size",
    "moe.shared_experts.w3.weight": "shared-expert hidden size",
    "moe.router.gate.weight": "router (a row per expert)",
}
# Split by rows by tensor parallelism as well as by sharded data parallelism (TP plan).
TP_ROWS = re.compile(
    r"(tok_embeddings|lm_head|wqkv|attention\.wq|attention\.wq_b|wkv_b|w1|w3)\.weight$"
)
EXPERTS = re.compile(r"routed_experts\.inner_experts\.")


def parameter_key(name: str) -> str:
    """``layers.3.attention.wo.weight`` -> ``attention.wo.weight``."""
    parts = name.split(".")
    if parts[0] in ("layers", "mtp_layers") and len(parts) > 2 and parts[1].isdigit():
        parts = parts[2:]
    return ".".join(parts)


def derive_shape(model: str, flavor: str) -> FlavorShape:
    import torch

    config = graph_trainer_config(resolve_flavor(model, flavor))
    model_config = config.model_spec.model
    model_config.update_from_config(config=config)
    with torch.device("meta"):
        built = model_config.build()
    fsdp_rows: dict[tuple[str, int], None] = {}
    fsdp_tp_rows: dict[tuple[str, int], None] = {}
    expert_hidden = 0
    for name, parameter in built.named_parameters():
        key = parameter_key(name)
        if EXPERTS.search(key):
            expert_hidden = int(parameter.shape[1]) if key.endswith("w1_EFD") else expert_hidden
            continue
        rows = (ROW_NAMES[key], int(parameter.shape[0]))
        (fsdp_tp_rows if TP_ROWS.search(key) else fsdp_rows)[rows] = None
    attention = model_config.layers[0].attention
    heads = int(attention.n_heads)
    experts = max(
        (int(layer.moe.num_experts) for layer in model_config.layers if layer.moe), default=0
    )
    return FlavorShape(
        dim=int(model_config.dim),
        layers=len(model_config.layers),
        heads=heads,
        kv_heads=int(getattr(attention, "n_kv_heads", None) or heads),
        vocab=int(model_config.vocab_size),
        experts=experts,
        expert_hidden=expert_hidden,
        parameters=sum(p.numel() for p in built.parameters()),
        batch=int(config.training.local_batch_size),
        seq_len=int(config.training.seq_len),
        fsdp_rows=tuple(sorted(fsdp_rows, key=lambda row: (row[1], row[0]))),
        fsdp_tp_rows=tuple(sorted(fsdp_tp_rows, key=lambda row: (row[1], row[0]))),
    )


def all_shapes() -> dict[tuple[str, str], FlavorShape]:
    return {
        (model, flavor): derive_shape(model, flavor)
        for model, flavors in FLAVORS.items()
        for flavor in flavors
    }


def _source(shapes: dict[tuple[str, str], Any]) -> str:
    lines = ["SHAPES: dict[tuple[str, str], FlavorShape] = {"]
    for key, shape in shapes.items():
        lines.append(f"    {key!r}: {shape!r},")
    lines.append("}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(_source(all_shapes()))
