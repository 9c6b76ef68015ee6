"""What ``ctc train`` and ``ctc capture`` check before they start a process or import torch.

``check_train`` and ``check_capture`` take the command's values and return a plan, or raise a
``CtcError`` naming the value and the rule: the model and flavor names, the batch and sequence
length, the pipeline (checked as a whole, bound to the CPU), whether the mesh can split the
model (heads, key/value heads, vocabulary, experts, the rows of every parameter:
``ctc.models.mesh``, with the sizes of ``ctc.models.shapes``) and matches the world size, and
for training whether the ranks fit in this machine's memory (an estimate, ``estimate_memory``).
Cores are never a reason to refuse: 8 ranks on 2 cores run, slowly. Torch-free.
"""

from __future__ import annotations

import math
from pathlib import Path

import attrs

from ctc.errors import CtcError
from ctc.models.flavors import resolve_flavor
from ctc.models.mesh import MeshSpec
from ctc.models.shapes import TINY_SHAPE, FlavorShape, flavor_shape

GIB = 2**30
# A rank's own footprint before any model: Python, torch, torchtitan, inductor and gloo. Measured
# here: about 0.8 GB resident per rank of llama3 debugmodel at sequence 64, nearly all of it this.
RANK_BASE_BYTES = 1 * GIB
# Activation bytes per token, layer and unit of model width, float32, with sequence parallelism
# and flash-style attention (Korthikanti et al., "Reducing Activation Recomputation": 34 bytes in
# 16-bit, doubled for 32-bit).
ACTIVATION_BYTES_PER_TOKEN_DIM_LAYER = 68
# The logits, their softmax and its gradient, float32.
LOGIT_BYTES_PER_TOKEN_ENTRY = 12
TINY_MESH_DIMS = ("dp_shard", "tp")


@attrs.frozen
class MemoryEstimate:
    """Bytes one rank needs, how many ranks there are, and this machine's memory (None when
    unknown): total, and available now."""

    per_rank_bytes: int
    ranks: int
    machine_bytes: int | None
    available_bytes: int | None

    @property
    def total_bytes(self) -> int:
        return self.per_rank_bytes * self.ranks

    def describe(self) -> str:
        text = (
            f"estimated memory {self.total_bytes / GIB:.1f} GiB "
            f"({self.ranks} ranks x {self.per_rank_bytes / GIB:.1f} GiB)"
        )
        if self.machine_bytes is not None:
            text += f" of {self.machine_bytes / GIB:.1f} GiB"
        return text


@attrs.frozen
class TrainPlan:
    """A checked ``ctc train``: what runs, where, and what it should need."""

    model: str
    flavor: str
    mesh: MeshSpec
    passes: str
    steps: int
    batch: int
    seq_len: int
    lr: float | None
    check: bool
    memory: MemoryEstimate

    @property
    def world_size(self) -> int:
        return self.mesh.world_size

    def describe(self) -> str:
        """Two lines: what trains where, and with what."""
        size = "" if self.model == "tiny" else f"batch {self.batch} x sequence {self.seq_len}, "
        check = ", every step checked against eager" if self.check else ""
        lr = f"lr {self.lr:g}" if self.lr is not None else "the flavor's lr"
        name = f"{self.model} {self.flavor}".rstrip()
        return (
            f"training {name} on {self.mesh} ({self.world_size} gloo "
            f"processes), pipeline: {self.passes or '(none)'}\n"
            f"{size}{self.steps} steps, AdamW with {lr}{check}; {self.memory.describe()}"
        )


@attrs.frozen
class CapturePlan:
    """A checked ``ctc capture``."""

    model: str
    flavor: str
    mesh: MeshSpec
    stages: tuple[str, ...]
    batch: int | None
    seq_len: int | None


def _check_counts(batch: int | None, seq_len: int | None) -> None:
    for flag, value in (("--batch", batch), ("--seq-len", seq_len)):
        if value is not None and value < 1:
            raise CtcError(f"{flag} must be at least 1, got {value}")


def _shape_of(model: str, flavor: str) -> tuple[str, FlavorShape]:
    """The flavor's display name and its shape (the tiny model has one flavor and no name)."""
    if model == "tiny":
        if flavor != "debugmodel":
            raise CtcError(f"the tiny model has no flavors (got --flavor {flavor})")
        return "", TINY_SHAPE
    resolved = resolve_flavor(model, flavor)
    return resolved.name, flavor_shape(resolved)


def _refuse_tiny_sizes(model: str, batch: int | None, seq_len: int | None) -> None:
    if model == "tiny" and (batch is not None or seq_len is not None):
        raise CtcError("the tiny model has a fixed batch and no sequence: drop --batch, --seq-len")


def check_mesh(
    model: str, flavor: str, mesh: str, seq_len: int | None = None, world_size: int | None = None
) -> MeshSpec:
    """The mesh of a run, refused unless it can split the model at ``seq_len`` (default: the
    flavor's) and spans ``world_size`` ranks when that is given."""
    spec = MeshSpec.parse(mesh)
    name, shape = _shape_of(model, flavor)
    extra = [dim for dim, _ in spec.sizes if dim not in TINY_MESH_DIMS]
    if model == "tiny" and extra:
        raise CtcError(f"the tiny model runs on dp_shard and tp only, not {', '.join(extra)}")
    length = shape.seq_len if seq_len is None else seq_len
    spec.check(shape.dims(f"{model} {name}".rstrip(), length), world_size=world_size)
    return spec


def check_capture(
    model: str,
    flavor: str,
    mesh: str,
    stages: str,
    batch: int | None = None,
    seq_len: int | None = None,
    world_size: int | None = None,
) -> CapturePlan:
    from ctc.passes.base import STAGES

    _check_counts(batch, seq_len)
    names = [stage.strip() for stage in stages.split(",")]
    unknown = [name for name in names if name not in STAGES]
    if unknown or not names:
        raise CtcError(
            f"unknown stage '{unknown[0] if unknown else ''}' (stages: {', '.join(STAGES)}, "
            "or a comma-separated list of them such as fwd,bwd)"
        )
    _refuse_tiny_sizes(model, batch, seq_len)
    spec = check_mesh(model, flavor, mesh, seq_len, world_size)
    ordered = tuple(stage for stage in STAGES if stage in names)
    return CapturePlan(model, flavor, spec, ordered, batch, seq_len)


def check_train(
    model: str,
    flavor: str,
    mesh: str,
    passes: str = "",
    steps: int = 3,
    batch: int | None = None,
    seq_len: int | None = None,
    lr: float | None = None,
    check: bool = False,
) -> TrainPlan:
    """A ``TrainPlan``, or the ``CtcError`` of the first thing that cannot run."""
    from ctc.dsl import parse_pipeline

    if steps < 1:
        raise CtcError(f"--steps must be at least 1, got {steps}")
    if lr is not None and (not math.isfinite(lr) or lr <= 0):
        raise CtcError(f"--lr must be a finite number > 0, got {lr}")
    _check_counts(batch, seq_len)
    _refuse_tiny_sizes(model, batch, seq_len)
    spec = check_mesh(model, flavor, mesh, seq_len)
    name, shape = _shape_of(model, flavor)
    canonical = parse_pipeline(passes, device="cpu").format() if passes else ""
    batch = shape.batch if batch is None else batch
    seq_len = shape.seq_len if seq_len is None else seq_len
    memory = estimate_memory(shape, spec, batch, max(seq_len, 1), eager_copy=check)
    plan = TrainPlan(model, name, spec, canonical, steps, batch, seq_len, lr, check, memory)
    if memory.machine_bytes is not None and memory.total_bytes > memory.machine_bytes:
        raise CtcError(
            f"{model} {name} on {spec} does not fit in this machine's memory: "
            f"{memory.describe()}; try a smaller --batch or --seq-len, fewer ranks, or "
            "no --check (no eager copy)"
        )
    return plan


def estimate_memory(
    shape: FlavorShape, spec: MeshSpec, batch: int, seq_len: int, eager_copy: bool
) -> MemoryEstimate:
    """A rank's memory in a CPU training run, float32: its process, its shard of parameters and
    gradients (twice with the eager copy), the full weights of its tensor-parallel slice
    (gathered for the step, held for backward), and the activations and logits of its tokens.
    Rough, and on the safe side; it is there to refuse runs that cannot fit, not to plan."""
    tp = spec.size("tp")
    shards = spec.size("dp_shard") * tp
    parameters = 4 * shape.parameters
    state = 2 * parameters // shards * (2 if eager_copy else 1)
    gathered = parameters // tp
    tokens = batch * seq_len
    activations = (
        ACTIVATION_BYTES_PER_TOKEN_DIM_LAYER * tokens * shape.dim * shape.layers
        + LOGIT_BYTES_PER_TOKEN_ENTRY * tokens * shape.vocab
    ) // tp
    per_rank = RANK_BASE_BYTES + state + gathered + activations
    total, available = machine_memory()
    return MemoryEstimate(per_rank, spec.world_size, total, available)


def machine_memory() -> tuple[int | None, int | None]:
    """(total, available) bytes of memory for this process: /proc/meminfo, capped by a cgroup
    limit; (None, None) where neither can be read."""
    fields: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None, None
    total, available = fields.get("MemTotal"), fields.get("MemAvailable")
    try:
        limit_text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        limit_text = "max"
    if limit_text.isdigit() and total is not None:
        total = min(total, int(limit_text))
        available = None if available is None else min(available, total)
    return total, available
