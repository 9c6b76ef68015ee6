"""``tp_overlap``: tensor-parallel collectives split into chunks that overlap their matmuls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import attrs

from ctc.ir.core import Func, Module, Op, walk_ops
from ctc.ir.verifier import check
from ctc.passes.base import Pass
from ctc.passes.options import IntOption, OptionalOption, ProfileOption, StrOption, option
from ctc.schedule.bucketing import Names
from ctc.schedule.cost import CostModel
from ctc.schedule.graph import flatten, regroup
from ctc.schedule.phases import keep_forward_first
from ctc.schedule.profile import load_profile
from ctc.schedule.simulate import simulate_ops
from ctc.schedule.tp_chunks import Builder, Edit, apply_edits, gather_edit, scatter_edit
from ctc.schedule.tp_sites import (
    GatherSite,
    ScatterSite,
    Uses,
    find_gather_site,
    find_scatter_site,
)

MAX_CHUNKS = 64


@attrs.frozen
class TpOverlapPass(Pass):
    """Splits tensor-parallel all-gathers and reduce-scatters into chunks that overlap the
    matmuls they feed or follow.

    An all-gather (dim 0) on mesh dimension ``group`` whose gathered rows feed ``aten.mm`` ops
    (through order-keeping views) becomes ``chunks`` all-gathers of row chunks of every rank's
    shard, issued where it was; each chunk is waited and multiplied as it arrives, and the
    matmuls' results (and the gathered tensor, for its other readers) are rebuilt row for row.
    A reduce-scatter (dim 0) of a matmul's product (or a sum of products) becomes ``chunks``
    reduce-scatters of column chunks of the product (slices of the weights: no copy), each
    issued as soon as its chunk is computed; the chunks are joined after their waits. With
    ``device``, each site takes the chunk count from 2 to ``chunks`` (dividing its rows or
    columns) that its cost-model timeline (``ctc.schedule.simulate``: each chunk's matmul at its
    own shape's rate plus the kernel overhead, each chunk's collective with its own latency, the
    copies that rebuild results) finds fastest, and stays whole when none beats it; without
    ``device`` every site that divides is split into ``chunks``.

    Guarantees: the result verifies; every output element is the same sum over the same operands
    as before (``ctc.schedule.tp_chunks``; a matmul kernel may still accumulate a smaller shape
    in another order); the values the rest of the program reads keep their names and types; every
    rank makes the same splits in the same order (they depend only on the IR); a joint stays
    partitionable (``ctc.schedule.phases``). Sites it does not recognise are left as they are
    (``ctc.schedule.tp_sites``).
    """

    name: ClassVar[str] = "tp_overlap"
    conflicts_with: ClassVar[tuple[str, ...]] = ("tp_overlap",)

    chunks: int = option(
        IntOption(minimum=2, maximum=MAX_CHUNKS),
        default=4,
        doc="chunks per collective (with device: the most tried)",
    )
    group: str = option(StrOption(), default="tp", doc="the mesh dimension whose collectives split")
    device: str | None = option(
        OptionalOption(ProfileOption()),
        default=None,
        doc="cost model profile choosing each site's chunks; none: always split",
    )

    def run(self, module: Module) -> Module:
        cost_model = None
        if self.device is not None:
            cost_model = CostModel(load_profile(self.device), module.mesh)
        functions = tuple(
            keep_forward_first(self.split_function(func, cost_model)) for func in module.functions
        )
        return check(attrs.evolve(module, functions=functions))

    def split_function(self, func: Func, cost_model: CostModel | None) -> Func:
        flat = flatten(func)
        ops = flat.ops
        uses = Uses.of(ops)
        taken = {value.name for value in func.args}
        taken |= {result.name for op in walk_ops(func.ops) for result in op.results}
        builder = Builder(Names(taken))
        edits: list[Edit] = []
        touched: set[int] = set()
        for index, op in enumerate(ops):
            if self.group not in getattr(op, "group_dims", ()):
                continue
            site = find_gather_site(ops, index, uses) or find_scatter_site(ops, index, uses)
            if site is None:
                continue
            edit = self.choose(ops, site, uses, builder, cost_model)
            if edit is None or edit.touched() & touched:
                continue
            edits.append(edit)
            touched |= edit.touched()
        if not edits:
            return func
        new_ops, anchors = apply_edits(ops, edits)
        paths = [flat.paths[index] for index in anchors]
        return func.with_ops(regroup(new_ops, paths, flat.regions))

    def choose(
        self,
        ops: Sequence[Op],
        site: GatherSite | ScatterSite,
        uses: Uses,
        builder: Builder,
        cost_model: CostModel | None,
    ) -> Edit | None:
        """The site's edit: ``chunks`` of them, or with a cost model the fastest count (None
        when the site is fastest whole)."""

        def edit(count: int, names: Builder) -> Edit | None:
            if isinstance(site, GatherSite):
                return gather_edit(ops, site, count, uses, names)
            return scatter_edit(ops, site, count, names)

        if cost_model is None:
            return edit(self.chunks, builder)
        best_time = _site_time(ops, _site_ops(site), (), cost_model)
        best_count = None
        for count in range(2, self.chunks + 1):
            trial = edit(count, Builder(Names(set(builder.names.taken))))
            if trial is None:
                continue
            time = _site_time(ops, sorted(trial.removed), _inserted(trial), cost_model)
            if time < best_time:
                best_time, best_count = time, count
        return None if best_count is None else edit(best_count, builder)


def _site_ops(site: GatherSite | ScatterSite) -> list[int]:
    if isinstance(site, GatherSite):
        return sorted({site.gather, site.wait, *site.views, *site.matmuls})
    return sorted({site.scatter, site.wait, *site.removed})


def _inserted(edit: Edit) -> list[Op]:
    return [op for index in sorted(edit.before) for op in edit.before[index]]


def _site_time(
    ops: Sequence[Op], indices: Sequence[int], extra: Sequence[Op], cost_model: CostModel
) -> float:
    """Simulated seconds of a site's ops alone: the original ops at ``indices`` when ``extra``
    is empty, else ``extra`` (an edit's new ops, which replace them)."""
    chosen = list(extra) if extra else [ops[index] for index in indices]
    return simulate_ops("site", chosen, (), cost_model).step_ms / 1e3
