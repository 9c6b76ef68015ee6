"""Op names in the IR -> the callables FX nodes call, and FX call arguments from IR operands.

``aten.mm.default`` -> ``torch.ops.aten.mm.default``; ``higher_order.flex_attention`` ->
``torch.ops.higher_order.flex_attention``; ``python._operator.mul`` -> ``_operator.mul``;
``coll.*`` -> the functional collective ``ctc.ir.ops.TORCH_COLLECTIVES`` maps its class to.
For an OpOverload, constant arguments are IR attributes named by the schema, and value-bearing
arguments are operands in schema order; an absent argument is one the call left to its default.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import torch

from ctc.errors import CtcError
from ctc.ir.core import Op, Operand, OperandList, Value
from ctc.ir.ops import op_class, torch_collective
from ctc.ir.types import OpaqueType, ScalarType, TensorType


@cache
def resolve_target(name: str) -> Callable[..., Any]:
    """The callable an IR op name stands for; a CtcError names an unknown one."""
    if name.startswith("python."):
        module_name, _, attribute = name[len("python.") :].rpartition(".")
        try:
            return getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError):
            raise CtcError(
                f"cannot lower {name}: no callable {attribute} in {module_name}"
            ) from None
    cls = op_class(name)
    collective = torch_collective(cls) if cls is not None else None
    if collective is not None:
        return getattr(torch.ops._c10d_functional, collective).default
    parts = name.split(".")
    try:
        if parts[0] == "higher_order" and len(parts) == 2:
            return getattr(torch.ops.higher_order, parts[1])
        if len(parts) == 3:
            packet = getattr(getattr(torch.ops, parts[0]), parts[1])
            return getattr(packet, parts[2])
    except (AttributeError, RuntimeError):
        pass
    raise CtcError(f"cannot lower {name}: torch has no such operator")


def _schema_kind(arg_type: str) -> str:
    """What an IR operand must look like to fill a schema argument of this type."""
    if arg_type.startswith(("List[", "Optional[List[")) or arg_type.endswith("[]"):
        return "list"
    if "Tensor" in arg_type:
        return "tensor"
    return "scalar"


def _operand_kind(operand: Operand) -> str:
    if isinstance(operand, OperandList):
        return "list"
    if isinstance(operand, Value):
        if isinstance(operand.type, TensorType):
            return "tensor"
        if isinstance(operand.type, ScalarType | OpaqueType):
            return "scalar"
    return "literal"


def match_schema(
    op: Op, target: torch._ops.OpOverload
) -> Iterator[tuple[str, bool, Operand | None, bool]]:
    """For each schema argument the IR gives: (name, kwarg_only, operand or None, from_attribute).

    Operands are matched in order, each to the next argument whose schema type accepts it; an
    argument with neither an attribute nor a fitting operand was left to its default.
    """
    operands = list(op.operands)
    position = 0
    for argument in target._schema.arguments:
        if argument.name in op.attributes:
            yield argument.name, argument.kwarg_only, None, True
            continue
        if position < len(operands):
            candidate = operands[position]
            kind = _operand_kind(candidate)
            if kind in ("literal", _schema_kind(str(argument.type))):
                position += 1
                yield argument.name, argument.kwarg_only, candidate, False
    if position != len(operands):
        raise CtcError(
            f"cannot lower {op.name}: operand {position} does not fit its schema {target._schema}"
        )
