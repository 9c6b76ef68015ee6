"""The printer: one generic syntax for every op, deterministic, the exact inverse of the parser.

    results = ns.op(operands) {sorted attributes} : result types loc(...) {region} {region}

Names are printed as stored, never renumbered; attributes sorted by key; a function's arguments
and results one per line so that diffs of dumps stay readable. Nested regions are printed from
an explicit stack, so any depth prints without recursion. Types, attribute dicts and locs shared
between ops (as the parser shares them) are formatted once per print.
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii  # json.dumps of a str, as StrAttr prints

from ctc.ir.attributes import DictAttr
from ctc.ir.core import Block, Func, Loc, Module, Op, Operand, OperandList, Value
from ctc.ir.types import Type

INDENT = "  "


def print_module(module: Module) -> str:
    """The canonical text of ``module``; ``str(module)`` gives the same."""
    printer = _Printer()
    lines: list[str] = []
    lines.append(f"module{_dict_suffix(module.attributes)} {{")
    for func in module.functions:
        printer.func(func, lines)
    lines.append("}")
    return "\n".join(lines) + "\n"


def print_op(op: Op, indent: int = 0) -> str:
    """The text of one op (and its regions), e.g. for error messages and debugging."""
    lines: list[str] = []
    _Printer().ops((op,), indent, lines)
    return "\n".join(lines)


def format_operand(operand: Operand) -> str:
    if isinstance(operand, Value):
        return f"%{operand.name}"
    if isinstance(operand, OperandList):
        return "[" + ", ".join(format_operand(item) for item in operand.items) + "]"
    return str(operand)


def _dict_suffix(attributes: DictAttr) -> str:
    return f" {attributes}" if len(attributes) else ""


class _Printer:
    """Prints functions and ops, remembering the text of each type, dict and loc object."""

    def __init__(self) -> None:
        # Keyed by id: the objects stay alive in the module for the whole print.
        self.types: dict[int, str] = {}
        self.dicts: dict[int, str] = {}
        self.locs: dict[int, str] = {}
        self.quoted: dict[str, str] = {}
        self.type_texts: dict[Type, str] = {}
        self.dict_texts: dict[DictAttr, str] = {}
        self.loc_texts: dict[Loc, str] = {}

    def func(self, func: Func, lines: list[str]) -> None:
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
        self.ops(func.ops, 2, lines)
        lines.append(f"{pad}}}")

    def ops(self, ops: tuple[Op, ...], indent: int, lines: list[str]) -> None:
        """Prints ``ops`` and their regions depth first, with an explicit stack."""
        # Each entry: the ops left in a block, its indent, and the op and region it belongs to.
        stack: list[tuple[list[Op], int, Op | None, int]] = [(list(reversed(ops)), indent, None, 0)]
        while stack:
            pending, depth, owner, region_index = stack[-1]
            if not pending:
                stack.pop()
                if owner is None:
                    continue
                pad = INDENT * (depth - 1)
                if region_index + 1 < len(owner.regions):
                    lines.append(pad + "} {")
                    stack.append(self.region(owner, region_index + 1, depth, lines))
                else:
                    lines.append(pad + "}")
                continue
            op = pending.pop()
            if not op.regions:
                lines.append(INDENT * depth + self.op_text(op))
                continue
            lines.append(INDENT * depth + self.op_text(op) + " {")
            stack.append(self.region(op, 0, depth + 1, lines))

    def region(
        self, op: Op, index: int, depth: int, lines: list[str]
    ) -> tuple[list[Op], int, Op | None, int]:
        region: Block = op.regions[index]
        if region.args:
            args = ", ".join(f"%{a.name}: {self.type(a.type)}" for a in region.args)
            lines.append(INDENT * depth + f"^bb0({args}):")
        return (list(reversed(region.ops)), depth, op, index)

    def op_text(self, op: Op) -> str:
        """The op without its regions."""
        results = op.results
        text = ", ".join(["%" + r.name for r in results]) + " = " if results else ""
        operands = op.operands
        text += (
            op.name
            + "("
            + ", ".join(["%" + o.name if type(o) is Value else format_operand(o) for o in operands])
            + ")"
        )
        attributes = op.attributes
        if attributes.entries:
            text += " " + self.dict(attributes)
        if len(results) == 1:
            text += " : " + self.type(results[0].type)
        elif results:
            text += " : (" + ", ".join([self.type(r.type) for r in results]) + ")"
        loc = self.loc(op.loc)
        if loc:
            text += " " + loc
        return text

    def type(self, value_type: Type) -> str:
        text = self.types.get(id(value_type))
        if text is None:
            # Equal types built apart (as a lift builds them) are formatted once too.
            text = self.type_texts.get(value_type)
            if text is None:
                text = self.type_texts[value_type] = str(value_type)
            self.types[id(value_type)] = text
        return text

    def dict(self, attributes: DictAttr) -> str:
        text = self.dicts.get(id(attributes))
        if text is None:
            text = self.dict_texts.get(attributes)
            if text is None:
                text = self.dict_texts[attributes] = str(attributes)
            self.dicts[id(attributes)] = text
        return text

    def loc(self, loc: Loc) -> str:
        """``loc(...)`` with the fields that are set, in the order of ``Loc.FIELDS`` (sorted);
        empty for an empty loc."""
        text = self.locs.get(id(loc))
        if text is not None:
            return text
        text = self.loc_texts.get(loc)
        if text is not None:
            self.locs[id(loc)] = text
            return text
        entries = []
        if loc.ac_graph_id is not None:
            entries.append(f"ac_graph_id = {loc.ac_graph_id}")
        if loc.annotations is not None:
            entries.append(f"annotations = {loc.annotations}")
        for name, value in (("module", loc.module), ("phase", loc.phase)):
            if value is not None:
                entries.append(f"{name} = {self.quote(value)}")
        if loc.recompute is not None:
            entries.append(f"recompute = {self.quote(loc.recompute)}")
        if loc.seq is not None:
            entries.append(f"seq = {loc.seq}")
        text = "loc(" + ", ".join(entries) + ")" if entries else ""
        self.locs[id(loc)] = self.loc_texts[loc] = text
        return text

    def quote(self, value: str) -> str:
        text = self.quoted.get(value)
        if text is None:
            text = self.quoted[value] = encode_basestring_ascii(value)
        return text
