"""Sizes for the data-dependent dimensions of a module, so that a cost model can count them.

Expert-parallel graphs size the tokens a rank receives by unbacked symbols: an all-to-all's
result has ``"u840 + u841 + ... + u847"`` rows, one count per source rank. A cost model gives
such tensors no bytes and no FLOPs, which would make all-to-alls and grouped matmuls free.

``routed_symbol_sizes`` sizes them for balanced routing, read from the module itself: a rank
receives as many rows as it sends, so each symbol in an all-to-all's result rows takes the value
that makes them equal to the input's rows (``skew`` scales that: 1.5 is a rank receiving half as
many again, as the busiest rank of an unbalanced router does). ``with_sizes`` replaces the
symbols by those values in every type.
"""

from __future__ import annotations

import ast
import operator
import re
import statistics
from collections.abc import Callable, Mapping

import attrs

from ctc.ir.core import Block, Func, Module, Op, Operand, OperandList, Value, walk_ops
from ctc.ir.ops import AllToAllOp
from ctc.ir.types import Dim, TensorType, Type, tensor

_UNBACKED = re.compile(r"\bu\d+\b")
_OPERATORS: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
}


def evaluate(expression: str, values: Mapping[str, int]) -> int | None:
    """The value of a size expression (symbols, integers, + - * //), or None when it names a
    symbol without a value or is not such an expression."""

    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name) and node.id in values:
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        raise ValueError(expression)

    try:
        return value(ast.parse(expression, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return None


def routed_symbol_sizes(module: Module, skew: float = 1.0) -> dict[str, int]:
    """A value for every unbacked symbol of ``module``: balanced routing times ``skew``.

    Symbols in the rows of an all-to-all's result are solved from that all-to-all (the result has
    as many rows as the input); any other unbacked symbol takes the median of those values."""
    solved: dict[str, int] = {}
    for func in module.functions:
        for op in walk_ops(func.ops):
            if isinstance(op, AllToAllOp):
                solved.update(_solve_all_to_all(op))
    names = {name for func in module.functions for name in _unbacked_names(func)}
    if not names:
        return {}
    fallback = int(statistics.median(solved.values())) if solved else 0
    return {name: round(solved.get(name, fallback) * skew) for name in sorted(names)}


def _solve_all_to_all(op: AllToAllOp) -> dict[str, int]:
    source, result = op.operands[0] if op.operands else None, op.results[0] if op.results else None
    if not isinstance(source, Value) or result is None:
        return {}
    if not isinstance(source.type, TensorType) or not isinstance(result.type, TensorType):
        return {}
    rows, received = source.type.shape[:1], result.type.shape[:1]
    if not rows or not isinstance(rows[0], int) or not received or isinstance(received[0], int):
        return {}
    symbols = set(_UNBACKED.findall(received[0]))
    at_zero = evaluate(received[0], dict.fromkeys(symbols, 0))
    at_one = evaluate(received[0], dict.fromkeys(symbols, 1))
    if at_zero is None or at_one is None or at_one == at_zero:
        return {}
    # Linear in one shared value v: at_zero + (at_one - at_zero) * v == rows.
    value = max(0, (rows[0] - at_zero) // (at_one - at_zero))
    return dict.fromkeys(symbols, value)


def _unbacked_names(func: Func) -> set[str]:
    names: set[str] = set()
    values = list(func.args)
    for op in walk_ops(func.ops):
        values += op.results
        for region in op.regions:
            values += region.args
    for value in values:
        if isinstance(value.type, TensorType):
            for dim in (*value.type.shape, *(value.type.strides or ())):
                if isinstance(dim, str):
                    names.update(_UNBACKED.findall(dim))
    return names


def with_sizes(module: Module, values: Mapping[str, int]) -> Module:
    """``module`` with every dimension that ``values`` decides replaced by its value."""
    if not values:
        return module
    return _Resizer(values).module(module)


@attrs.define
class _Resizer:
    values: Mapping[str, int]
    types: dict[Type, Type] = attrs.field(factory=dict)
    resized_values: dict[Value, Value] = attrs.field(factory=dict)

    def module(self, module: Module) -> Module:
        return attrs.evolve(module, functions=tuple(self.func(f) for f in module.functions))

    def func(self, func: Func) -> Func:
        body = self.block(func.body)
        return attrs.evolve(
            func, body=body, result_types=tuple(self.type(t) for t in func.result_types)
        )

    def block(self, block: Block) -> Block:
        # Regions nest at most MAX_REGION_DEPTH deep in a verified module: recursion is safe.
        args = tuple(self.value(a) for a in block.args)
        return Block(tuple(self.op(op) for op in block.ops), args)

    def op(self, op: Op) -> Op:
        return op.replace(
            operands=tuple(self.operand(o) for o in op.operands),
            regions=tuple(self.block(r) for r in op.regions),
            results=tuple(self.value(r) for r in op.results),
        )

    def operand(self, operand: Operand) -> Operand:
        if isinstance(operand, Value):
            return self.resized_values.get(operand, operand)
        if isinstance(operand, OperandList):
            return OperandList(tuple(self.operand(item) for item in operand.items))
        return operand

    def value(self, value: Value) -> Value:
        """A definition; its uses (equal values) are replaced by the same resized value."""
        value_type = self.type(value.type)
        resized = value if value_type is value.type else Value(value.name, value_type)
        self.resized_values[value] = resized
        return resized

    def type(self, value_type: Type) -> Type:
        if not isinstance(value_type, TensorType):
            return value_type
        resized = self.types.get(value_type)
        if resized is None:
            if all(isinstance(d, int) for d in (*value_type.shape, *(value_type.strides or ()))):
                self.types[value_type] = value_type
                return value_type
            shape = tuple(self.dim(d) for d in value_type.shape)
            strides = value_type.strides
            resized = tensor(
                value_type.dtype,
                *shape,
                strides=None if strides is None else tuple(self.dim(s) for s in strides),
            )
            self.types[value_type] = resized
        return resized

    def dim(self, dim: Dim) -> Dim:
        if isinstance(dim, int):
            return dim
        number = evaluate(dim, self.values)
        return dim if number is None else number
