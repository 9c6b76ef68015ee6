"""What torchtitan 0.3.0's graph_trainer needs to train on the CPU, beyond ctc's own compat shims
(``ctc.compat.enable_torchtitan_training``: device type, ``set_timeout``). Bench-only: ctc does
not use graph_trainer's activation-checkpoint policy.

Gap: on the CPU, SDPA is ``aten._scaled_dot_product_flash_attention_for_cpu``, which is tagged
nondeterministic_seeded and missing from torchtitan's default save list, so graph_trainer's
policy recomputes it and its rematerialisation pass refuses ("does not support RNG ops in
recompute regions"). Saving it, as the CUDA attention variants are saved, gets past that.

Gap: its block-bucketing pass runs torch's overlap scheduler, which asks triton for the GPU's
memory bandwidth and fails without a GPU; ``bench/peers_torch.patch_torch_for_cpu`` answers it
(H100's figure: only a fallback roofline reads it).
"""

from __future__ import annotations

from typing import Any


def apply() -> None:
    from peers_torch import patch_torch_for_cpu

    patch_torch_for_cpu()
    _save_cpu_attention()


def _save_cpu_attention() -> None:
    import torch
    import torchtitan.distributed.activation_checkpoint as checkpointing
    from torchtitan.experiments.graph_trainer import memory_policy

    original = checkpointing._get_default_save_ops
    if getattr(original, "ctc_cpu_attention", False):
        return

    def save_ops() -> Any:
        ops = original()
        ops.add(torch.ops.aten._scaled_dot_product_flash_attention_for_cpu.default)
        return ops

    save_ops.ctc_cpu_attention = True  # type: ignore[attr-defined]
    checkpointing._get_default_save_ops = save_ops
    memory_policy._get_default_save_ops = save_ops
