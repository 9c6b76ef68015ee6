"""The printer: one generic syntax for every op, deterministic, the exact inverse of the parser.

    results = ns.op(operands) {sorted attributes} : result types loc(...) {region} {region}

Names are printed as stored, never renumbered; attributes sorted by key; a function's arguments
and results one per line so that diffs of dumps stay readable.
"""

from __future__ import annotations

from ctc.ir.attributes import DictAttr, StrAttr
from ctc.ir.core import Block, Func, Loc, Module, Op, Operand, OperandList, Value

INDENT = "  "


def print_module(module: Module) -> str:
    """The canonical text of ``module``; ``str(module)`` gives the same."""
    lines: list[str] = []
    lines.append(f"module{_dict_suffix(module.attributes)} {{")
    for func in module.functions:
        _print_func(func, lines)
    lines.append("}")
    return "\n".join(lines) + "\n"


def print_op(op: Op, indent: int = 0) -> str:
    """The text of one op (and its regions), e.g. for error messages and debugging."""
    lines: list[str] = []
    _print_op(op, indent, lines)
    return "\n".join(lines)


def format_operand(operand: Operand) -> str:
    if isinstance(operand, Value):
        return f"%{operand.name}"
    if isinstance(operand, OperandList):
        return "[" + ", ".join(format_operand(item) for item in operand.items) + "]"
    return str(operand)


def format_loc(loc: Loc) -> str:
    entries = []
    for name in Loc.FIELDS:
        value = getattr(loc, name)
        if value is None:
            continue
        if isinstance(value, str):
            value = StrAttr(value)
        entries.append(f"{name} = {value}")
    return "loc(" + ", ".join(entries) + ")"


def _dict_suffix(attributes: DictAttr) -> str:
    return f" {attributes}" if len(attributes) else ""


def _print_func(func: Func, lines: list[str]) -> None:
    pad = INDENT
    arg_lines = [
        f"%{arg.name}: {arg.type}" + _dict_suffix(attrs)
        for arg, attrs in zip(
            func.args, func.arg_attrs or [DictAttr()] * len(func.args), strict=False
        )
    ]
    result_lines = [
        f"{value_type}" + _dict_suffix(attrs)
        for value_type, attrs in zip(
            func.result_types,
            func.result_attrs or [DictAttr()] * len(func.result_types),
            strict=False,
        )
    ]
    lines.append(f"{pad}func @{func.name}(" + ("" if arg_lines else ")"))
    if arg_lines:
        lines += [f"{pad}{INDENT * 2}{text}," for text in arg_lines]
        lines[-1] = lines[-1][:-1]
        lines.append(f"{pad})" + " -> (" + ("" if result_lines else ")"))
    else:
        lines[-1] += " -> (" + ("" if result_lines else ")")
    if result_lines:
        lines += [f"{pad}{INDENT * 2}{text}," for text in result_lines]
        lines[-1] = lines[-1][:-1]
        lines.append(f"{pad})")
    lines[-1] += f"{_dict_suffix(func.attributes)} {{"
    for op in func.ops:
        _print_op(op, 2, lines)
    lines.append(f"{pad}}}")


def _print_op(op: Op, indent: int, lines: list[str]) -> None:
    pad = INDENT * indent
    text = ""
    if op.results:
        text = ", ".join(f"%{r.name}" for r in op.results) + " = "
    text += op.name + "(" + ", ".join(format_operand(o) for o in op.operands) + ")"
    text += _dict_suffix(op.attributes)
    if len(op.results) == 1:
        text += f" : {op.results[0].type}"
    elif op.results:
        text += " : (" + ", ".join(str(r.type) for r in op.results) + ")"
    if not op.loc.is_empty():
        text += " " + format_loc(op.loc)
    if not op.regions:
        lines.append(pad + text)
        return
    lines.append(pad + text + " {")
    for index, region in enumerate(op.regions):
        if index:
            lines.append(pad + "} {")
        _print_region(region, indent + 1, lines)
    lines.append(pad + "}")


def _print_region(region: Block, indent: int, lines: list[str]) -> None:
    if region.args:
        args = ", ".join(f"%{a.name}: {a.type}" for a in region.args)
        lines.append(INDENT * indent + f"^bb0({args}):")
    for op in region.ops:
        _print_op(op, indent, lines)
