"""The reference system's pass names, accepted as aliases of ctc pipelines.

Rules as data: each alias stands for a pipeline string of ctc's own passes, which carries out the
reference's intent. A comma list of aliases is a pipeline; the canonical print shows the
expansion. An alias takes no arguments (write its expansion to choose options).
"""

from __future__ import annotations

ALIASES: dict[str, str] = {
    # FSDP bucketing chosen by the cost model, then compute/communication reordering for overlap;
    # parameters re-gathered in the backward (the reference resharded after forward).
    "autobucketing_reordering": "reshard_after_forward,bucket(auto),reorder",
    # One bucket per transformer block, all-gathering the next block's parameters one block ahead;
    # parameters re-gathered in the backward, as the reference did.
    "transformer_block_bucketing": "reshard_after_forward,bucket(block, prefetch=1)",
    # Inductor on the regions annotated for it (compile_with_inductor), the rest stays eager.
    "regional_inductor": "inductor(regions)",
    # CUDA graph wrapping; the same name as ctc's pass, listed so the four names are all here.
    "cudagraph": "cudagraph",
}
