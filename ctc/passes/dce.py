"""Dead-code elimination."""

from __future__ import annotations

from typing import ClassVar

import attrs

from ctc.ir.core import Block, Func, Module, Op
from ctc.ir.effects import kept_without_uses
from ctc.ir.ops import RegionOp
from ctc.passes.base import Pass


def _live_ops(ops: tuple[Op, ...], live: set[str]) -> tuple[Op, ...]:
    """The ops worth keeping, walking backwards; ``live`` holds the names read later on."""
    kept: list[Op] = []
    for op in reversed(ops):
        if isinstance(op, RegionOp):
            # A grouping region shares its parent's scope: same live set, dropped when empty.
            body = _live_ops(op.body.ops, live)
            if body:
                kept.append(op.replace(regions=(Block(body, op.body.args),)))
            continue
        if not kept_without_uses(op) and not any(result.name in live for result in op.results):
            continue
        live.update(value.name for value in op.operand_values())
        if op.regions:
            # A higher-order op's sub-graphs have scopes of their own.
            regions = tuple(Block(_live_ops(r.ops, set()), r.args) for r in op.regions)
            op = op.replace(regions=regions)
        kept.append(op)
    return tuple(reversed(kept))


def eliminate_dead_code(func: Func) -> Func:
    return func.with_ops(_live_ops(func.ops, set()))


@attrs.frozen
class DeadCodeEliminationPass(Pass):
    """Removes ops whose results nothing reads and that have no effects.

    Guarantees: every op that remains is one the function's results or an effect depend on;
    ops with effects (no results, in-place or random aten ops, asserts) always stay, in order;
    a collective goes only together with its ``coll.wait`` (every rank drops the same ones, so
    ranks still agree on the collectives they issue); a grouping region left empty is dropped;
    function signatures and the order of the remaining ops do not change.
    """

    name: ClassVar[str] = "dce"

    def run(self, module: Module) -> Module:
        return attrs.evolve(
            module, functions=tuple(eliminate_dead_code(f) for f in module.functions)
        )
