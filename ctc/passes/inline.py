"""Region inlining: the inverse of outlining."""

from __future__ import annotations

from typing import ClassVar

import attrs

from ctc.ir.core import Block, Module, Op
from ctc.ir.ops import REGION_KINDS, RegionOp
from ctc.passes.base import Pass
from ctc.passes.options import ChoiceOption, option


def inline_regions(ops: tuple[Op, ...], kind: str) -> tuple[Op, ...]:
    """``ops`` with every ``ctc.region`` of ``kind`` (any kind for ``all``) replaced by its body,
    at every depth."""
    result: list[Op] = []
    for op in ops:
        regions = tuple(Block(inline_regions(r.ops, kind), r.args) for r in op.regions)
        if isinstance(op, RegionOp) and kind in ("all", op.kind):
            result.extend(regions[0].ops)
        else:
            result.append(op.replace(regions=regions) if op.regions else op)
    return tuple(result)


@attrs.frozen
class InlinePass(Pass):
    """Removes ``ctc.region`` ops of one kind, putting their ops in their place.

    Guarantees: no region of that kind remains, at any depth; every other op, region and name
    is unchanged and in the same order (a region's values are visible after it, so nothing is
    renamed); ``inline`` undoes ``outline`` of the same kind.
    """

    name: ClassVar[str] = "inline"

    kind: str = option(
        ChoiceOption((*REGION_KINDS, "all")),
        doc="the kind of region to remove; all: every kind",
    )

    def run(self, module: Module) -> Module:
        functions = tuple(f.with_ops(inline_regions(f.ops, self.kind)) for f in module.functions)
        return attrs.evolve(module, functions=functions)
