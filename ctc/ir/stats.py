"""Counts that describe a module: ops by kind, regions, collectives and their bytes per group."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ctc.ir.core import Func, Module, walk_ops
from ctc.ir.ops import CollectiveOp, RegionOp
from ctc.ir.types import TensorType


def collective_bytes(op: CollectiveOp) -> int:
    """Bytes of the collective's input on one rank (0 when a dimension is symbolic)."""
    value_type = op.input.type
    if isinstance(value_type, TensorType):
        return value_type.nbytes or 0
    return 0


def function_stats(func: Func) -> dict[str, Any]:
    ops = list(walk_ops(func.ops))
    collectives = [op for op in ops if isinstance(op, CollectiveOp)]
    by_group: Counter[str] = Counter()
    count_by_group: Counter[str] = Counter()
    for op in collectives:
        key = f"{op.name} {op.group_key}"
        by_group[key] += collective_bytes(op)
        count_by_group[key] += 1
    return {
        "name": func.name,
        "args": len(func.args),
        "results": len(func.result_types),
        "ops": len(ops),
        "regions": sum(isinstance(op, RegionOp) for op in ops),
        "collectives": len(collectives),
        "ops_by_name": dict(sorted(Counter(op.name for op in ops).items())),
        "collectives_by_group": {
            key: {"count": count_by_group[key], "bytes": by_group[key]}
            for key in sorted(count_by_group)
        },
    }


def module_stats(module: Module) -> dict[str, Any]:
    return {
        "mesh": [list(pair) for pair in module.mesh],
        "functions": [function_stats(func) for func in module.functions],
    }
