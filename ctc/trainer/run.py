"""One rank of ``ctc train``: torchtitan's own configuration parsing and trainer, as
``torchrun ... -m torchtitan.train`` would run them, returning what rank 0 reports.

``torchtitan_args`` turns ``ctc train``'s settings into torchtitan's command line, so the two
launch paths train the same configuration (a test compares their losses).
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Sequence
from typing import Any


def train_worker(rank: int, world_size: int, argv: Sequence[str], verbose: bool) -> dict[str, Any]:
    """Builds torchtitan's config from ``argv`` and trains it (the launcher has set the
    torchrun environment; torchtitan initialises the process group itself)."""
    import torch.distributed as dist
    from torchtitan.config import ConfigManager

    from ctc.noise import show_ctc_warnings_plainly, silence_known_noise

    if verbose:
        from torchtitan.tools.logging import init_logger

        init_logger()
    else:
        logging.getLogger().setLevel(logging.WARNING)
    silence_known_noise()
    show_ctc_warnings_plainly()
    config = ConfigManager().parse_args(list(argv))
    trainer = config.build()
    try:
        trainer.train()
        return trainer.summary()
    finally:
        with contextlib.redirect_stdout(io.StringIO()):
            trainer.close()
        # CUDA graphs that hold NCCL collectives go before their process group does.
        from ctc import cudagraphs

        cudagraphs.release_all()
        if dist.is_initialized():
            dist.destroy_process_group()
