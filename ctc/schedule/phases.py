"""Keeping a joint function partitionable after a schedule moved its ops.

torch's default partitioner does not split a joint graph by data flow: it takes every op up to
the *last* op tagged forward (``loc.phase = "fwd"``) as the forward graph. An op that reads a
tangent (the gradient flowing into the backward) placed before that point lands in the forward,
which has no tangents, and partitioning fails ("Node div_1 was invalid, but is output"). A
schedule that sinks a forward collective's wait (and the loss ops reading it) below the first
backward op for overlap does exactly that.
"""

from __future__ import annotations

from ctc.ir.core import Func
from ctc.schedule.graph import flatten, regroup


def tangent_arguments(func: Func) -> set[str]:
    """Names of the function's arguments that carry a tangent (``{tangent = i}``)."""
    return {
        arg.name
        for arg, attributes in zip(func.args, func.arg_attrs, strict=False)
        if attributes.get("tangent") is not None
    }


def keep_forward_first(func: Func) -> Func:
    """``func`` with every forward op placed before the first op that depends on a tangent.

    Guarantees: unchanged when no tangent-dependent op precedes a forward op (every captured
    joint, and every function without tangents); otherwise the forward ops found after the first
    tangent-dependent op, with the ops between that they read from, move (in their order) to just
    before it. Nothing else moves, so collective issue order within each stream changes only by
    such a move, which every rank makes alike.
    """
    tangents = tangent_arguments(func)
    if not tangents:
        return func
    flat = flatten(func)
    dependent: set[str] = set(tangents)
    first_dependent: int | None = None
    for index, op in enumerate(flat.ops):
        if any(value.name in dependent for value in op.operand_values()):
            dependent.update(result.name for result in op.results)
            if first_dependent is None:
                first_dependent = index
    if first_dependent is None:
        return func
    late = list(range(first_dependent, len(flat.ops)))
    if not any(flat.ops[index].loc.phase == "fwd" for index in late):
        return func
    moving: set[int] = set()
    needed: set[str] = set()  # values the ops moving so far read
    for index in reversed(late):
        op = flat.ops[index]
        if op.loc.phase == "fwd" or any(result.name in needed for result in op.results):
            if any(result.name in dependent for result in op.results):
                return func  # a forward op reading a tangent: nothing to repair here
            moving.add(index)
            needed.update(value.name for value in op.operand_values())
    order = (
        list(range(first_dependent))
        + sorted(moving)
        + [index for index in late if index not in moving]
    )
    ops = [flat.ops[index] for index in order]
    paths = [flat.paths[index] for index in order]
    return func.with_ops(regroup(ops, paths, flat.regions))
