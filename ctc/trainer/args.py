"""``ctc train``'s settings as torchtitan's command line (torch-free).

``ctc train`` launches its ranks and runs torchtitan's trainer in each with exactly the arguments
``torchrun ... -m torchtitan.train`` would get, so both paths train the same configuration;
``torchtitan_command`` prints the equivalent torchrun command line.
"""

from __future__ import annotations

import shlex

import attrs

from ctc.models.mesh import MeshSpec

# ctc train's CPU defaults (torchtitan's flavors default to sequence 2048 and batch 8).
DEFAULT_SEQ_LEN = 64
DEFAULT_BATCH = 1
DEFAULT_STEPS = 8


@attrs.frozen
class TrainSettings:
    """What to train and how; ``None`` leaves torchtitan's configuration value."""

    model: str = "llama3"
    flavor: str = "debugmodel"
    mesh: str = "dp_shard=2,tp=2"
    passes: str = ""
    steps: int = DEFAULT_STEPS
    batch: int | None = DEFAULT_BATCH
    seq_len: int | None = DEFAULT_SEQ_LEN
    lr: float | None = None
    seed: int = 0
    check: bool = False
    checkpoint: str | None = None
    checkpoint_interval: int | None = None
    stop_after: int = 0
    ir: str | None = None
    ir_dump: str | None = None

    @property
    def world_size(self) -> int:
        return MeshSpec.parse(self.mesh).world_size


def torchtitan_args(settings: TrainSettings) -> list[str]:
    """The arguments of ``torchtitan.train`` (after ``-m torchtitan.train``) for ``settings``."""
    spec = MeshSpec.parse(settings.mesh)
    args = [
        "--module",
        f"ctc.{settings.model}",
        "--config",
        f"ctc_{settings.model}_{settings.flavor}",
        "--parallelism.data_parallel_replicate_degree",
        str(spec.size("dp_replicate")),
        "--parallelism.data_parallel_shard_degree",
        str(spec.size("dp_shard")),
        "--parallelism.tensor_parallel_degree",
        str(spec.size("tp")),
        "--parallelism.expert_parallel_degree",
        str(spec.size("ep")),
        "--training.steps",
        str(settings.steps),
        "--debug.seed",
        str(settings.seed),
    ]
    if settings.seq_len is not None:
        args += ["--training.seq_len", str(settings.seq_len)]
    if settings.batch is not None:
        args += ["--training.local_batch_size", str(settings.batch)]
    if settings.passes:
        args += ["--compile.passes", settings.passes]
    if settings.ir_dump:
        args += ["--compile.ir_dump", settings.ir_dump]
    if settings.ir:
        args += ["--compile.ir", settings.ir]
    if settings.lr is not None:
        args += ["--ctc.lr", repr(settings.lr)]
    if settings.check:
        args += ["--ctc.check"]
    if settings.stop_after:
        args += ["--ctc.stop_after", str(settings.stop_after)]
    if settings.checkpoint:
        args += ["--checkpoint.enable", "--checkpoint.folder", settings.checkpoint]
        interval = settings.checkpoint_interval or settings.steps
        args += ["--checkpoint.interval", str(interval)]
    return args


def torchtitan_command(settings: TrainSettings) -> str:
    """The torchrun command line that trains the same configuration."""
    command = [
        "torchrun",
        "--standalone",
        "--nproc_per_node",
        str(settings.world_size),
        "-m",
        "torchtitan.train",
        *torchtitan_args(settings),
    ]
    return shlex.join(command)
