"""``bucket``: FSDP collectives merged into buckets and moved for overlap."""

from __future__ import annotations

import warnings
from typing import ClassVar

import attrs

from ctc.errors import CtcError, CtcWarning
from ctc.ir.core import Func, Module
from ctc.ir.verifier import check
from ctc.passes.base import Pass
from ctc.passes.options import (
    BoolOption,
    ChoiceOption,
    IntOption,
    OptionalOption,
    ProfileOption,
    Size,
    SizeOption,
    option,
)
from ctc.schedule.auto import auto_bucket
from ctc.schedule.cost import CostModel
from ctc.schedule.graph import flatten
from ctc.schedule.memory import memory_profile, resolve_budget
from ctc.schedule.overlap import fill_stalls
from ctc.schedule.passes.options import memory_budget_option
from ctc.schedule.phases import keep_forward_first
from ctc.schedule.placement import block_placement, fit_budget
from ctc.schedule.plan import (
    apply_buckets,
    assign_roles,
    block_groups,
    build_function,
    streams_split,
)
from ctc.schedule.profile import load_profile
from ctc.schedule.units import Role, decompose

# More buckets ahead than any model has blocks (llama3 405B: 126) is a typo, not a schedule.
MAX_PREFETCH = 1024
DEFAULT_CAP = Size(500 * 10**6, "MB")
# bucket(auto)'s default memory budget: the input's peak (a ratio).
AUTO_BUDGET = 1.0


@attrs.frozen
class BucketPass(Pass):
    """Merges FSDP all-gathers and reduce-scatters into buckets and prefetches them.

    FSDP collectives are the dim-0 all-gathers of parameters and the dim-0 reduce-scatters of
    returned gradients; tensor- and expert-parallel collectives are left alone. ``block``: the
    consecutive FSDP collectives of one module block (``layers.N``, else the first component of
    the module path: ``tok_embeddings``, ``norm``, ``output``) form one bucket (split at ``cap``);
    the all-gather of bucket ``i + prefetch`` is issued where bucket ``i`` is first used, and the
    wait of reduce-scatter ``i`` is deferred to the issue of ``i + prefetch``. ``auto``: bucket
    boundaries and issue points from the cost model of ``device`` -- a merge is kept only when it
    lowers the simulated stall plus its copy time -- and the best of that, the unmerged schedule
    and the input by simulated step time within the memory budget; then computation that does
    not depend on a stalling collective (tensor-parallel ones, on the critical path) moves under
    it (``ctc.schedule.overlap``) when that shortens the step without raising peak memory.

    Guarantees: the result verifies; a joint stays partitionable (no tangent-dependent op before
    a forward op: ``ctc.schedule.phases``); every rank makes the same decisions (they depend only on
    the IR: shapes, attributes, module paths, positions; ties by original order); compute ops
    keep their relative order (in auto mode, except those moved under a stalling collective);
    bucket copy-in/out ops are real aten ops with the members' exact values
    (``ctc.schedule.bucketing``); peak memory (``ctc.schedule.memory``) stays within
    ``memory_budget`` when given (a size, or a ratio >= 1 over the input's peak); in auto mode
    the budget defaults to 1.0 (auto never raises the peak unless allowed to) and an input
    already over it is returned unchanged. With
    ``split_streams`` FSDP all-gathers carry ``stream = "fsdp_all_gather"``: the lowering runs them
    on a communicator of their own, so they overlap with reduce-scatters of the same group.
    """

    name: ClassVar[str] = "bucket"
    conflicts_with: ClassVar[tuple[str, ...]] = ("bucket",)

    mode: str = option(
        ChoiceOption(("block", "auto")),
        doc="block: one bucket per transformer block; auto: buckets from the cost model",
        positional=True,
    )
    prefetch: int = option(
        IntOption(minimum=0, maximum=MAX_PREFETCH),
        default=1,
        doc="buckets to all-gather ahead of use",
    )
    # Size is a frozen attrs class; ruff cannot tell that the option() default is immutable.
    cap: Size | None = option(  # noqa: RUF009
        OptionalOption(SizeOption(minimum=1)),
        default=DEFAULT_CAP,
        doc="largest bucket (gathered or full-gradient bytes); none: no cap",
    )
    memory_budget: Size | float | None = memory_budget_option("no limit (block), 1.0 (auto)")
    split_streams: bool = option(
        BoolOption(), default=True, doc="all-gathers on a communicator of their own"
    )
    device: str = option(
        ProfileOption(), default="h100", doc="cost model profile for auto: a name or a .json file"
    )

    def run(self, module: Module) -> Module:
        cost_model = CostModel(load_profile(self.device), module.mesh)
        functions = tuple(
            keep_forward_first(self.bucket_function(func, cost_model)) for func in module.functions
        )
        return check(attrs.evolve(module, functions=functions))

    def bucket_function(self, func: Func, cost_model: CostModel) -> Func:
        layout = assign_roles(decompose(func))
        if all(unit.role is Role.OTHER for unit in layout.units):
            return func
        if self.split_streams:
            layout = streams_split(layout)
        input_peak = memory_profile(flatten(func).ops, func.args).peak_bytes
        cap = None if self.cap is None else self.cap.bytes
        if self.mode == "auto":
            _warn_when_over_the_device(func, input_peak, cost_model)
            budget = resolve_budget(
                AUTO_BUDGET if self.memory_budget is None else self.memory_budget, input_peak
            )
            chosen = auto_bucket(func, layout, cost_model, cap, budget)
            return fill_stalls(chosen, cost_model, None)
        budget = resolve_budget(self.memory_budget, input_peak)
        bucketed, _ = apply_buckets(layout, block_groups(layout, cap))
        placement = block_placement(bucketed, self.prefetch)
        if not fit_budget(bucketed, placement, budget, monotone=False):
            raise CtcError(
                f"bucket(block) on @{func.name} needs more than memory_budget "
                f"({budget:.0f} bytes; the input peaks at {input_peak}); raise the budget, "
                "lower cap, or use bucket(auto)"
            )
        return build_function(bucketed, placement)


def _warn_when_over_the_device(func: Func, input_peak: int, cost_model: CostModel) -> None:
    """bucket(auto) keeps the peak where the input has it: when that is already more than the
    device holds, no schedule it can choose fits, and it says so with the margin."""
    device = cost_model.profile.memory_bytes
    if input_peak > device:
        warnings.warn(
            f"bucket(auto) on @{func.name}: the step peaks at {input_peak / 2**30:.1f} GiB per "
            f"rank before bucketing, over the {cost_model.profile.name} device's "
            f"{device / 2**30:.1f} GiB by {(input_peak - device) / 2**30:.1f} GiB; no schedule "
            "of this graph fits (more ranks, activation checkpointing or a smaller batch would)",
            CtcWarning,
            stacklevel=2,
        )
