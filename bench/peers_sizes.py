"""Data-dependent sizes made concrete for costing.

Expert-parallel graphs size the tokens each rank receives by unbacked symbols (``u840 + ... +
u847``: one count per source rank); ctc's cost model gives such tensors no bytes and no FLOPs,
which would make all-to-alls and grouped matmuls free. The bench replaces every symbol by its
balanced-routing value, ``batch x seq x top_k / ep`` tokens, in the captured IR and in torch's
lifted outputs alike, so every contender is costed on the same sizes.
"""

from __future__ import annotations

import ast
import operator
import re

from ctc.ir import parse_module, print_module
from ctc.ir.core import Module

# A quoted dimension of torch symbols (``u840``, ``s3``) and integers joined by + - * //.
_TERM = r"(?:[us]\d+|\d+)"
_QUOTED_DIM = re.compile(rf'"({_TERM}(?:\s*(?:[-+*]|//)\s*{_TERM})*)"')
_OPERATORS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
}


def evaluate(expression: str, symbol_size: int) -> int | None:
    """The value of a symbolic size with every symbol set to ``symbol_size`` (None if it is not
    arithmetic over symbols and integers)."""

    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return symbol_size
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return int(_OPERATORS[type(node.op)](value(node.left), value(node.right)))
        raise ValueError(expression)

    try:
        return value(ast.parse(expression, mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError):
        return None


def has_symbolic_sizes(module: Module) -> bool:
    return any(re.search(r"[us]\d", m.group(1)) for m in _QUOTED_DIM.finditer(print_module(module)))


def concretize(module: Module, symbol_size: int) -> Module:
    """``module`` with each symbolic dimension replaced by its value (text in, text out)."""

    def replace(match: re.Match[str]) -> str:
        expression = match.group(1)
        number = evaluate(expression, symbol_size) if re.search(r"[us]\d", expression) else None
        return match.group(0) if number is None else str(number)

    text = print_module(module)
    return parse_module(_QUOTED_DIM.sub(replace, text), "concretized")
