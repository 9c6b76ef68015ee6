"""The inputs and outputs of regions that lowering outlines into submodules.

A ``ctc.region`` is transparent in the IR: its ops read values defined before it and its results
are visible after it. Outlined as a GraphModule it needs an explicit boundary: the values its ops
read that are defined outside it (in first-use order), and the values it defines that anything
after it reads, the function's ``ctc.return`` included (in definition order). Sub-graphs of
higher-order ops are isolated and only their op's operands count.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from ctc.ir.core import Func, Op, Value
from ctc.ir.ops import RegionOp


@attrs.frozen
class RegionBoundary:
    inputs: tuple[Value, ...]
    outputs: tuple[Value, ...]


def _flat(
    ops: tuple[Op, ...], kinds: frozenset[str], region: RegionOp | None
) -> Iterator[tuple[Op, RegionOp | None]]:
    """Every non-region op with the outermost region of ``kinds`` around it."""
    for op in ops:
        if isinstance(op, RegionOp):
            inner = op if region is None and op.kind in kinds else region
            yield from _flat(op.body.ops, kinds, inner)
        else:
            yield op, region


def region_boundaries(func: Func, kinds: frozenset[str]) -> dict[int, RegionBoundary]:
    """``id(region op) -> boundary`` for the outermost regions of ``kinds`` in ``func``."""
    flat = list(_flat(func.ops, kinds, None))
    defined_in: dict[str, int] = {}  # value -> id of the outlined region defining it
    last_use: dict[str, int] = {}
    inputs: dict[int, dict[str, Value]] = {}
    defined: dict[int, list[Value]] = {}
    end: dict[int, int] = {}
    for position, (op, region) in enumerate(flat):
        key = id(region) if region is not None else None
        for value in op.operand_values():
            last_use[value.name] = position
            if key is not None and defined_in.get(value.name) != key:
                inputs.setdefault(key, {}).setdefault(value.name, value)
        if key is not None:
            end[key] = position
            for result in op.results:
                defined_in[result.name] = key
                defined.setdefault(key, []).append(result)
    boundaries: dict[int, RegionBoundary] = {}
    for key, values in defined.items():
        outputs = tuple(v for v in values if last_use.get(v.name, -1) > end[key])
        boundaries[key] = RegionBoundary(tuple(inputs.get(key, {}).values()), outputs)
    for _, region in flat:
        if region is not None and id(region) not in boundaries:
            boundaries[id(region)] = RegionBoundary(tuple(inputs.get(id(region), {}).values()), ())
    return boundaries
