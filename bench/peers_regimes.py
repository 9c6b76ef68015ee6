"""The regimes of the peers bench (issue 5): two compute-bound, two communication-bound."""

from __future__ import annotations

import attrs


@attrs.frozen
class Regime:
    key: str
    kind: str  # "compute" or "comm": which targets apply
    title: str
    model: str
    flavor: str
    mesh: str
    seq_len: int
    batch: int = 1
    layers: int | None = None  # None: all of the flavor's transformer blocks
    device: str = "h100"
    gpus_per_node: int = 8
    # Expert parallelism: tokens a rank receives from each source rank under balanced routing
    # (batch x seq x top_k / ep), the value ctc's balanced routing gives every unbacked size symbol
    # (``ctc.ir.symbols``; peers_run checks that they agree).
    symbol_size: int | None = None


FULL = (
    Regime(
        "llama3-8b-fsdp8",
        "compute",
        "compute-bound, one NVLink node",
        "llama3",
        "8B",
        "dp_shard=8",
        8192,
    ),
    Regime(
        "llama3-8b-fsdp2-tp4",
        "compute",
        "compute-bound, one NVLink node",
        "llama3",
        "8B",
        "dp_shard=2,tp=4",
        8192,
    ),
    Regime(
        "llama3-8b-fsdp64",
        "comm",
        "communication-bound, 8 InfiniBand nodes",
        "llama3",
        "8B",
        "dp_shard=64",
        2048,
    ),
    Regime(
        "dsv3-16b-ep8",
        "comm",
        "communication-bound, 8 InfiniBand nodes",
        "deepseek_v3",
        "16B",
        "dp_shard=64,ep=8",
        2048,
        symbol_size=2048 * 6 // 8,
    ),
)

# --quick: the same meshes on the debug flavors (a smoke run; its numbers mean little).
QUICK = tuple(
    attrs.evolve(
        regime,
        flavor="debugmodel",
        seq_len=256,
        layers=2,
        # debugmodel routes to top 3 of 8 experts
        symbol_size=None if regime.symbol_size is None else 256 * 3 // 8,
    )
    for regime in FULL
)


def regimes(quick: bool) -> tuple[Regime, ...]:
    return QUICK if quick else FULL


def regime_by_key(key: str, quick: bool) -> Regime:
    for regime in regimes(quick):
        if regime.key == key:
            return regime
    raise KeyError(f"unknown regime {key!r} (known: {', '.join(r.key for r in FULL)})")
