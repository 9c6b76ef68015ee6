"""``reorder``: collectives issued early and waited late, within a memory budget."""

from __future__ import annotations

from typing import ClassVar

import attrs

from ctc.ir.core import Func, Module
from ctc.ir.verifier import check
from ctc.passes.base import Pass
from ctc.passes.options import Size
from ctc.schedule.graph import flatten
from ctc.schedule.memory import memory_profile, resolve_budget
from ctc.schedule.passes.options import memory_budget_option
from ctc.schedule.phases import keep_forward_first
from ctc.schedule.placement import eager_placement, fit_budget
from ctc.schedule.plan import build_function
from ctc.schedule.units import decompose

DEFAULT_BUDGET = 1.05


@attrs.frozen
class ReorderPass(Pass):
    """Issues collectives early and waits on them late, for overlap within a memory budget.

    Every collective (with the casts, views and copies that only feed it) is issued as early as
    its inputs allow and its ``coll.wait`` (with the ops that only read its result) placed as late
    as its first use allows; then, while peak memory exceeds ``memory_budget`` (a size, or a ratio
    >= 1 over the input's peak; default 1.05), the collective with the largest buffer live at the
    peak goes back where the input had it.

    Guarantees: the result verifies; a joint stays partitionable (``ctc.schedule.phases``); compute ops keep their relative order, so regions stay
    whole; each stream's collectives keep their issue order (the same on every rank); peak memory
    stays within the budget, or the input is returned unchanged when even it exceeds the budget.
    """

    name: ClassVar[str] = "reorder"

    memory_budget: Size | float | None = memory_budget_option(str(DEFAULT_BUDGET))

    def run(self, module: Module) -> Module:
        functions = tuple(
            keep_forward_first(self.reorder_function(func)) for func in module.functions
        )
        return check(attrs.evolve(module, functions=functions))

    def reorder_function(self, func: Func) -> Func:
        layout = decompose(func)
        if not layout.units:
            return func
        input_peak = memory_profile(flatten(func).ops, func.args).peak_bytes
        requested = DEFAULT_BUDGET if self.memory_budget is None else self.memory_budget
        budget = resolve_budget(requested, input_peak)
        placement = eager_placement(layout)
        if not fit_budget(layout, placement, budget, monotone=True):
            return func
        return build_function(layout, placement)
