"""Gap: torch 2.13 does not register FlexAttention's ``BlockMask`` as a pytree node, so a
BlockMask passed as a model input stops AOT export ("all flat_args must be KNOWN_TYPES").

``apply()`` registers it (and its mask-function wrapper as a constant) with graph_trainer's
helper; the mask then enters the graph as its block tensors.
"""

from __future__ import annotations


def needed() -> bool:
    import torch.utils._pytree as pytree
    from torch.nn.attention.flex_attention import BlockMask

    return BlockMask not in pytree.SUPPORTED_NODES


def apply() -> None:
    from torchtitan.experiments.graph_trainer.common_utils import (
        maybe_register_blockmask_pytree_node,
    )

    maybe_register_blockmask_pytree_node()
