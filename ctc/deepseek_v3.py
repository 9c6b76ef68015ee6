"""deepseek_v3 for torchtitan's trainer, compiled by ctc: ``--module ctc.deepseek_v3 --config
ctc_deepseek_v3_<flavor>`` with the flavors of ``ctc.models.flavors`` (``debugmodel``,
``debugmodel_flex_attn``, ``16B``, ...), e.g.::

    torchrun --nproc_per_node 4 -m torchtitan.train --module ctc.deepseek_v3 \\
        --config ctc_deepseek_v3_debugmodel --parallelism.data_parallel_shard_degree 2 \\
        --parallelism.tensor_parallel_degree 2 --parallelism.expert_parallel_degree 2 \\
        --activation_checkpoint.mode none
"""

from __future__ import annotations

from ctc.trainer.registry import config_functions

globals().update(config_functions("deepseek_v3"))
__all__ = sorted(config_functions("deepseek_v3"))
