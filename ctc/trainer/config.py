"""The sections ctc adds to torchtitan's trainer configuration (``--compile.*`` and ``--ctc.*``).

torchtitan parses them with the rest of its command line, so ``torchrun ... -m torchtitan.train
--module ctc.llama3 --config ctc_llama3_debugmodel --compile.passes
transformer_block_bucketing,regional_inductor`` and ``ctc train`` accept the same flags.
"""

from __future__ import annotations

from dataclasses import dataclass

from torchtitan.experiments.graph_trainer.configs import GraphTrainerCompileConfig


@dataclass(kw_only=True, slots=True)
class CtcCompileConfig(GraphTrainerCompileConfig):
    """How ctc compiles the training step. It extends graph_trainer's section (whose
    parallelize functions read it) and leaves ``enable`` False, so neither torchtitan nor
    graph_trainer compiles anything: ctc compiles the whole step (model and loss)."""

    passes: str = ""  # a pipeline string, where graph_trainer has a list of names
    """A ctc pipeline (``bucket(block),inductor(regions)``) or the reference's comma list of
    pass names (``transformer_block_bucketing,regional_inductor``); empty: no passes."""

    ir_dump: str = ""
    """A folder for the IR of every stage (joint captured and after its passes, fwd and bwd
    before and after theirs); empty: none."""

    ir: str = ""
    """Train from this IR file (written by ``ctc capture``/``ctc opt`` or by hand) instead of
    the captured joint; it is checked against the model before the first step."""

    tracer: str = "direct"
    """How the step is captured: ``direct`` (AOT export) or ``dynamo``."""


@dataclass(kw_only=True, slots=True)
class CtcRunConfig:
    """Run-level options of ctc's trainer."""

    check: bool = False
    """Compare every step with the eager model on the same weights: loss and every gradient,
    bitwise without inductor, within inductor's tolerance with it."""

    stop_after: int = 0
    """Stop after this many steps of this run (0: run to --training.steps); the learning-rate
    schedule still spans --training.steps, so a checkpointed run can be resumed exactly."""

    progress: bool = True
    """Print one line per step (loss, tokens/s, step time, peak memory) on rank 0."""

    lr: float = 0.0
    """The optimizer's learning rate for every parameter group (0: the configuration's)."""
