"""llama3 for torchtitan's trainer, compiled by ctc: ``--module ctc.llama3 --config
ctc_llama3_<flavor>`` with the flavors of ``ctc.models.flavors`` (``debugmodel``,
``debugmodel_flex_attn``, ``8B``, ...), e.g.::

    torchrun --nproc_per_node 8 -m torchtitan.train --module ctc.llama3 \\
        --config ctc_llama3_debugmodel_flex_attn --parallelism.data_parallel_shard_degree 2 \\
        --parallelism.tensor_parallel_degree 4 \\
        --compile.passes transformer_block_bucketing,regional_inductor
"""

from __future__ import annotations

from ctc.trainer.registry import config_functions

globals().update(config_functions("llama3"))
__all__ = sorted(config_functions("llama3"))
