"""``reshard_after_forward``: FSDP parameters are gathered again in the backward, not saved."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import attrs

from ctc.ir.core import Func, Loc, Module, Op, Value, walk_ops
from ctc.ir.ops import AllGatherOp, GenericOp, RegionOp, WaitOp
from ctc.passes.base import Pass

RECOMPUTE = "must_recompute"
# The activation-checkpoint region every resharded chain shares: chains never feed each other,
# so one id keeps torch's partitioner from saving a chain's end for another chain.
AC_GRAPH_ID = 0

# Ops that only move or reinterpret data: a parameter's path to its all-gather, and the views of
# the gathered weight before the compute that reads it.
_DATA_MOVEMENT_PACKETS = frozenset(
    {
        "view",
        "reshape",
        "_unsafe_view",
        "t",
        "permute",
        "transpose",
        "slice",
        "narrow",
        "squeeze",
        "unsqueeze",
        "expand",
        "contiguous",
        "clone",
        "_to_copy",
        "convert_element_type",
        "alias",
        "as_strided",
    }
)


def _packet(op: Op) -> str:
    parts = op.name.split(".")
    return parts[1] if len(parts) > 2 else parts[-1]


def _single_value_operand(op: Op) -> Value | None:
    values = list(op.operand_values())
    return values[0] if len(values) == 1 else None


def _is_chain_op(op: Op, phases: tuple[str | None, ...] = ("fwd",)) -> bool:
    """An op of ``phases`` that moves or casts one tensor (no sub-graphs, no collectives)."""
    return (
        op.loc.phase in phases
        and not op.regions
        and len(op.results) == 1
        and _single_value_operand(op) is not None
        and _packet(op) in _DATA_MOVEMENT_PACKETS
        and type(op) is GenericOp
    )


def fsdp_gather_chains(func: Func) -> list[set[str]]:
    """For each forward all-gather on dim 0 of a parameter (through data-movement ops only):
    the result names of the chain from the parameter to the gathered views the compute reads."""
    params = {
        arg.name
        for arg, attributes in zip(func.args, func.arg_attrs, strict=False)
        if attributes.get("param") is not None
    }
    ops = [op for op in walk_ops(func.ops) if not isinstance(op, RegionOp)]
    producer = {result.name: op for op in ops for result in op.results}
    users: dict[str, list[Op]] = {}
    for op in ops:
        for value in op.operand_values():
            users.setdefault(value.name, []).append(op)
    chains = []
    for op in ops:
        if not (isinstance(op, AllGatherOp) and op.loc.phase == "fwd"):
            continue
        if op.dim != 0:
            continue
        upstream = _upstream(op, producer, params)
        if upstream is None:
            continue
        downstream = _downstream(op, users)
        chains.append({*upstream, op.result.name, *downstream})
    return chains


def _upstream(gather: Op, producer: dict[str, Op], params: set[str]) -> list[str] | None:
    """The chain ops between a parameter and the all-gather, or None if it reads no parameter."""
    names: list[str] = []
    value = _single_value_operand(gather)
    while value is not None and value.name not in params:
        op = producer.get(value.name)
        if op is None or not _is_chain_op(op):
            return None
        names.append(value.name)
        value = _single_value_operand(op)
    return names if value is not None else None


def _downstream(gather: Op, users: dict[str, list[Op]]) -> list[str]:
    """The wait of the all-gather and the data-movement ops after it, up to the compute.
    Backward views count too: a scheduling pass may move them into the forward with the wait
    they read (the partitioner would then save them)."""
    waits = [op for op in users.get(gather.result.name, []) if isinstance(op, WaitOp)]
    names = [wait.result.name for wait in waits]
    frontier = list(names)
    while frontier:
        name = frontier.pop()
        for op in users.get(name, []):
            if _is_chain_op(op, ("fwd", "bwd", None)) and op.result.name not in names:
                names.append(op.result.name)
                frontier.append(op.result.name)
    return names


def _tag(ops: Iterable[Op], names: set[str]) -> tuple[Op, ...]:
    tagged = []
    for op in ops:
        if isinstance(op, RegionOp):
            op = op.replace(regions=(attrs.evolve(op.body, ops=_tag(op.body.ops, names)),))
        elif any(result.name in names for result in op.results):
            op = op.replace(loc=_recompute(op.loc))
        tagged.append(op)
    return tuple(tagged)


def _recompute(loc: Loc) -> Loc:
    return attrs.evolve(loc, recompute=RECOMPUTE, ac_graph_id=AC_GRAPH_ID)


@attrs.frozen
class ReshardAfterForwardPass(Pass):
    """Makes FSDP gather parameters again in the backward instead of saving the gathered copies.

    On ``@joint``: every forward all-gather (dim 0) whose input is a parameter reached through
    data-movement ops only (views, casts), with that path, its wait and the views of the gathered
    tensor up to the compute reading it (forward or backward), is tagged ``recompute = "must_recompute"`` with one
    shared ``ac_graph_id``. torch's partitioner then saves none of them for the backward and
    re-runs the chain there (a second all-gather per parameter, issued by every rank alike).

    Guarantees: only ``loc`` changes (op order, names, values and every other op are as they
    were), so the step computes bitwise the same loss and gradients; the bucketing passes keep
    the tag on a bucket whose members all carry it.
    """

    name: ClassVar[str] = "reshard_after_forward"
    stages: ClassVar[tuple[str, ...]] = ("joint",)

    def run(self, module: Module) -> Module:
        functions = []
        for func in module.functions:
            names = set().union(*fsdp_gather_chains(func))
            functions.append(func.with_ops(_tag(func.ops, names)) if names else func)
        return attrs.evolve(module, functions=tuple(functions))
