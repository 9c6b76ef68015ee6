"""The sizes of every flavor that a launch is checked against -- heads, experts, vocabulary, the
first dimensions of the parameters, the parameter count, the training defaults -- as data, so
``ctc train`` and ``ctc capture`` refuse a mesh or a size without importing torch.

``SHAPES`` is copied from torchtitan 0.3.0: ``python -m tests.models.torchtitan_shapes`` derives
it (building each flavor on the meta device), and tests/models/test_flavors.py checks that the
two agree, so a torchtitan upgrade that changes a model fails a test instead of a launch.
"""

from __future__ import annotations

import attrs

from ctc.models.flavors import Flavor
from ctc.models.mesh import ModelDims


@attrs.frozen
class FlavorShape:
    """The sizes of one flavor that decide whether a mesh can split it and how much memory it
    needs: copied from torchtitan 0.3.0 (``SHAPES``) so that a launch is checked without
    importing torch. ``fsdp_rows`` are the first dimensions of the parameters that sharded data
    parallelism alone splits (norms, row-parallel weights), ``fsdp_tp_rows`` those that tensor
    parallelism splits too (column-parallel weights, the embedding, the output layer), each
    with what it is. Routed experts (``experts`` of ``expert_hidden`` x ``dim``) are split by
    expert parallelism and ``efsdp``. ``batch`` and ``seq_len``: the training defaults."""

    dim: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    experts: int
    expert_hidden: int
    parameters: int
    batch: int
    seq_len: int
    fsdp_rows: tuple[tuple[str, int], ...]
    fsdp_tp_rows: tuple[tuple[str, int], ...]

    def dims(self, name: str, seq_len: int) -> ModelDims:
        """What a mesh must divide, for a run at ``seq_len``."""
        return ModelDims(
            name,
            self.heads,
            self.kv_heads,
            self.vocab,
            self.experts,
            seq_len,
            self.fsdp_rows,
            self.fsdp_tp_rows,
            self.expert_hidden,
        )


def flavor_shape(flavor: Flavor) -> FlavorShape:
    """The shape of a resolved flavor (the attention backend does not change it)."""
    return SHAPES[(flavor.model, flavor.flavor)]


# ctc.models.tiny: two blocks of w1 (HIDDEN x DIM, column-parallel) and w2 (DIM x HIDDEN,
# row-parallel); no heads, vocabulary or sequence. A test compares it with that module.
TINY_SHAPE = FlavorShape(
    dim=8,
    layers=2,
    heads=0,
    kv_heads=0,
    vocab=0,
    experts=0,
    expert_hidden=0,
    parameters=2 * 2 * 8 * 16,
    batch=4,
    seq_len=0,
    fsdp_rows=(("model dimension", 8),),
    fsdp_tp_rows=(("hidden size", 16),),
)

# Derived from torchtitan 0.3.0 by tests/models/torchtitan_shapes.py (which a test reruns).
SHAPES: dict[tuple[str, str], FlavorShape] = {
    ("llama3", "debugmodel"): FlavorShape(
        dim=256,
        layers=6,
        heads=16,
        kv_heads=16,
        vocab=2048,
        experts=0,
        expert_hidden=0,
        parameters=6163712,
        batch=8,
        seq_len=2048,
        fsdp_rows=(("model dimension", 256),),
        fsdp_tp_rows=(
            ("feed-forward hidden size", 768),
            ("fused query/key/value rows", 768),
            ("vocabulary", 2048),
        ),
    ),
    ("llama3", "1B"): FlavorShape(
        dim=2048,
        layers=16,
        heads=32,
        kv_heads=8,
        vocab=128256,
        experts=0,
        expert_hidden=0,
        parameters=1235814400,
        batch=8,
        seq_len=2048,
        fsdp_rows=(("model dimension", 2048),),
        fsdp_tp_rows=(
            ("fused query/key/value rows", 3072),
            ("feed-forward hidden size", 8192),
            ("vocabulary", 128256),
        ),
    ),
    ("llama3", "3B"): FlavorShape(
        dim=3072,
        layers=28,
        heads=24,
        kv_heads=8,
        vocab=128256,
        experts=0,
        expert_hidden=0,
        parameters=3212749824,
        batch=8,
        seq_len=2048,
        fsdp_rows=(("model dimension", 3072),),
        fsdp_tp_rows=(
            ("fused query/key/value rows", 5120),
            ("feed-forward hidden size", 8192),
            ("vocabulary", 128256),
        ),
    ),
    ("llama3", "8B"): FlavorShape(
        dim=4096,
        layers=32,
        heads=32,
        kv_heads=8,
        vocab=128256,
        experts=0,
        expert_hidden=0,
        parameters=8030261248,
        batch=1,
        seq_len=8192,
        fsdp_rows=(("model dimension", 4096),),
        fsdp_tp_rows=(
            ("fused query/key/value rows", 6144),
            ("feed-forward hidden size", 14336),
            ("vocabulary", 128256),
        ),
    ),
    ("llama3", "70B"): FlavorShape(
        dim=8192,
        layers=80,
        heads=64,
        kv_heads=8,
        vocab=128256,
        experts=0,
        expert_hidden=0,
        parameters=70553706496,
        batch=8,
        seq_len=8192,
        fsdp_rows=(("model dimension", 8192),),
        fsdp_tp_rows=(
            ("fused query/key/value rows", 10240),
            ("feed-forward hidden size", 28672),
            ("vocabulary", 128256),
        ),
    ),
    ("llama3", "405B"): FlavorShape(
        dim=16384,
        layers=126,
        heads=128,
        kv_heads=8,
        vocab=128256,
        experts=0,
        expert_hidden=0,
        parameters=405853388800,
        batch=2,
        seq_len=8192,
        fsdp_rows=(("model dimension", 16384),),
        fsdp_tp_rows=(
            ("fused query/key/value rows", 18432),
            ("feed-forward hidden size", 53248),
            ("vocabulary", 128256),
        ),
    ),
    ("deepseek_v3", "debugmodel"): FlavorShape(
        dim=256,
        layers=6,
        heads=16,
        kv_heads=16,
        vocab=2048,
        experts=8,
        expert_hidden=256,
        parameters=33014016,
        batch=8,
        seq_len=2048,
        fsdp_rows=(
            ("router (a row per expert)", 8),
            ("model dimension", 256),
            ("key/value low-rank dimension", 512),
            ("key/value low-rank rows", 576),
        ),
        fsdp_tp_rows=(
            ("shared-expert hidden size", 512),
            ("feed-forward hidden size", 1024),
            ("vocabulary", 2048),
            ("query projection rows", 3072),
            ("key/value projection rows", 4096),
        ),
    ),
    ("deepseek_v3", "16B"): FlavorShape(
        dim=2048,
        layers=27,
        heads=16,
        kv_heads=16,
        vocab=102400,
        experts=64,
        expert_hidden=1408,
        parameters=15706484224,
        batch=4,
        seq_len=4096,
        fsdp_rows=(
            ("router (a row per expert)", 64),
            ("key/value low-rank dimension", 512),
            ("key/value low-rank rows", 576),
            ("model dimension", 2048),
        ),
        fsdp_tp_rows=(
            ("shared-expert hidden size", 2816),
            ("query projection rows", 3072),
            ("key/value projection rows", 4096),
            ("feed-forward hidden size", 10944),
            ("vocabulary", 102400),
        ),
    ),
    ("deepseek_v3", "236B"): FlavorShape(
        dim=5120,
        layers=60,
        heads=128,
        kv_heads=128,
        vocab=102400,
        experts=160,
        expert_hidden=1536,
        parameters=235741434880,
        batch=8,
        seq_len=2048,
        fsdp_rows=(
            ("router (a row per expert)", 160),
            ("key/value low-rank dimension", 512),
            ("key/value low-rank rows", 576),
            ("query low-rank dimension", 1536),
            ("model dimension", 5120),
        ),
        fsdp_tp_rows=(
            ("shared-expert hidden size", 3072),
            ("feed-forward hidden size", 12288),
            ("query projection rows", 24576),
            ("key/value projection rows", 32768),
            ("vocabulary", 102400),
        ),
    ),
    ("deepseek_v3", "671B"): FlavorShape(
        dim=7168,
        layers=61,
        heads=128,
        kv_heads=128,
        vocab=129280,
        experts=256,
        expert_hidden=2048,
        parameters=671026404352,
        batch=4,
        seq_len=4096,
        fsdp_rows=(
            ("router (a row per expert)", 256),
            ("key/value low-rank dimension", 512),
            ("key/value low-rank rows", 576),
            ("query low-rank dimension", 1536),
            ("model dimension", 7168),
        ),
        fsdp_tp_rows=(
            ("shared-expert hidden size", 2048),
            ("feed-forward hidden size", 18432),
            ("query projection rows", 24576),
            ("key/value projection rows", 32768),
            ("vocabulary", 129280),
        ),
    ),
}
