"""The fast reader of IR text, beside the lark parser (``parser.py``), which stays the grammar.

``parse_module`` tries this reader first. It reads the text the printer writes, and the spacing,
comments and one-line signatures people write by hand, with regular expressions over whole ops
and caches of the pieces that repeat (types, attribute dicts, locs), and builds the ops directly.
It never reports an error: on anything it does not read, or would have to reject, it raises
``NotFast`` and ``parse_module`` gives the whole text to lark, which either accepts it (a
fallback, counted) or reports the error at its location. So it accepts a subset of lark's
language and builds the same module from it; ``tests/ir/test_fast_parser.py`` compares the two
on the golden files, the examples, generated modules, the invalid-input corpus and random edits.

This module reads the structure (module, functions, blocks, ops, regions); ``fast_pieces.py``
the pieces within (types, attributes, locs). Region nesting is read with an explicit stack, so
any depth reads without recursion.
"""

from __future__ import annotations

import re

from ctc.ir.attributes import DictAttr, IntAttr, ListAttr, NoneAttr
from ctc.ir.core import Block, Func, Loc, Module, Op, Operand, OperandList, Value
from ctc.ir.fast_pieces import (
    KEY,
    MAX_FAST_ATTRIBUTE_DEPTH,
    OPNAME,
    OPNAME_RE,
    SPACE,
    SPACE_POSSESSIVE,
    STRING,
    STRING_POSSESSIVE,
    SYMBOL_RE,
    TYPE,
    VALUE_RE,
    NotFast,
    PieceReader,
)
from ctc.ir.ops import op_class
from ctc.ir.types import Type

__all__ = ["NotFast", "read_fast"]

# A whole op as the printer writes it, results to loc; anything else is read piece by piece.
_VALUE_P = r"%[A-Za-z0-9_][A-Za-z0-9_.$\-]*+"
_OPNAME_P = r"[A-Za-z_][A-Za-z0-9_]*+(?:\.[A-Za-z0-9_]++)++"
_ITEM = rf"(?:{_VALUE_P}|-?\d++|none)"
_OPERAND = rf"(?:{_ITEM}|\[(?:{_ITEM}(?:, {_ITEM})*+)?\])"
_ATTR_DICT = (
    rf"\{{(?=(?:{KEY}|{STRING}) =)"
    rf"(?:[^{{}}\"]++|{STRING_POSSESSIVE}|\{{(?:[^{{}}\"]++|{STRING_POSSESSIVE})*+\}})*+\}}"
)
_LOC = rf"loc\((?:[^()\"]++|{STRING_POSSESSIVE})*+\)"
_CANONICAL_OP = re.compile(
    rf"(?:({_VALUE_P}(?:, {_VALUE_P})*+) = )?({_OPNAME_P})\(((?:{_OPERAND}(?:, {_OPERAND})*+)?)\)"
    rf"(?: ({_ATTR_DICT}))?"
    rf"(?: : ({TYPE}|\({TYPE}(?:, {TYPE})++\)))?"
    rf"(?: ({_LOC}))?" + SPACE_POSSESSIVE
)
_LIST_OR_ITEM = re.compile(r"\[[^\]]*\]|[^,\s\[\]]+")
# After "{": an attribute dict starts with a key (or a quoted key) and "="; a region with an op,
# "^bb0" or "}". An op name (dotted) wins over a key, as OPNAME's priority does in lark.
_ATTR_DICT_START = re.compile(rf"\{{{SPACE}(?:{STRING}|(?!{OPNAME}){KEY})")

_NO_ATTRIBUTES = DictAttr()
_NO_LOC = Loc()


# The names visible in a block: the function's, or a sub-graph's own.
_Scope = dict[str, Value]


class FastReader(PieceReader):
    """Reads one text. ``module()`` returns the module, or raises ``NotFast``."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.classes: dict[str, type[Op]] = {}

    # ---- the module and its functions -------------------------------------------------------
    def module(self) -> Module:
        if not self.keyword("module"):
            raise NotFast("no 'module'")
        attributes = self.optional_attr_dict(body_word="func")
        self.expect("{")
        functions = []
        while self.keyword("func"):
            functions.append(self.func())
        self.expect("}")
        if self.skip() != len(self.text):
            raise NotFast("text after the module")
        return Module(tuple(functions), attributes)

    def func(self) -> Func:
        name = self.token(SYMBOL_RE)[1:]
        scope: _Scope = {}
        args: list[Value] = []
        arg_attrs: list[DictAttr] = []
        self.expect("(")
        if not self.accept(")"):
            while True:
                args.append(self.define(self.token(VALUE_RE)[1:], self.colon_type(), scope))
                arg_attrs.append(self.dict_after_type())
                if self.accept(")"):
                    break
                self.expect(",")
        self.expect("->")
        self.expect("(")
        result_types: list[Type] = []
        result_attrs: list[DictAttr] = []
        if not self.accept(")"):
            while True:
                result_types.append(self.type())
                result_attrs.append(self.dict_after_type())
                if self.accept(")"):
                    break
                self.expect(",")
        attributes = self.optional_attr_dict()
        self.expect("{")
        ops = self.block_body(scope)
        return Func(
            name,
            Block(ops, tuple(args)),
            tuple(result_types),
            tuple(arg_attrs),
            tuple(result_attrs),
            attributes,
        )

    def dict_after_type(self) -> DictAttr:
        if self.peek() != "{":
            return DictAttr()
        return self.attr_dict()

    def optional_attr_dict(self, body_word: str | None = None) -> DictAttr:
        """An attribute dict where a "{" may instead open a body (of a module or a function)."""
        self.skip()
        if not _ATTR_DICT_START.match(self.text, self.pos):
            return DictAttr()
        if body_word is not None:
            after = self.pos
            self.pos += 1
            if self.keyword(body_word):
                self.pos = after
                return DictAttr()
            self.pos = after
        return self.attr_dict()

    def define(self, name: str, value_type: Type, scope: _Scope) -> Value:
        if name in scope:
            raise NotFast(f"value %{name} is defined twice")
        value = Value(name, value_type)
        scope[name] = value
        return value

    # ---- ops and regions --------------------------------------------------------------------
    def block_body(self, scope: _Scope) -> tuple[Op, ...]:
        """The ops of a block whose "{" was read, through its "}". Nested regions go on an
        explicit stack instead of the call stack."""
        # Each entry: the enclosing block's ops and scope, the op whose regions are being read
        # (its head), the regions read so far, and the current region's arguments.
        stack: list[tuple[list[Op], _Scope, _Head, list[Block], tuple[Value, ...]]] = []
        ops: list[Op] = []
        text = self.text
        while True:
            self.skip()
            if text.startswith("}", self.pos):
                self.pos += 1
                if not stack:
                    return tuple(ops)
                outer_ops, outer_scope, head, regions, region_args = stack.pop()
                regions.append(Block(tuple(ops), region_args))
                if self.peek() == "{":  # the op's next region
                    self.pos += 1
                    scope, region_args = self.open_region(head, outer_scope)
                    stack.append((outer_ops, outer_scope, head, regions, region_args))
                    ops = []
                    continue
                outer_ops.append(self.finish_op(head, tuple(regions), outer_scope))
                ops, scope = outer_ops, outer_scope
                continue
            head = self.op_head(scope)
            if self.peek() != "{":
                ops.append(self.finish_op(head, (), scope))
                continue
            self.pos += 1
            inner_scope, region_args = self.open_region(head, scope)
            stack.append((ops, scope, head, [], region_args))
            ops, scope = [], inner_scope

    def open_region(self, head: _Head, scope: _Scope) -> tuple[_Scope, tuple[Value, ...]]:
        """The scope of a region of ``head`` (whose "{" was read) and its block arguments."""
        inner: _Scope = scope if head.cls.TRANSPARENT_REGIONS else {}
        args: list[Value] = []
        if self.accept("^bb0"):
            self.expect("(")
            if not self.accept(")"):
                while True:
                    args.append(self.define(self.token(VALUE_RE)[1:], self.colon_type(), inner))
                    if self.accept(")"):
                        break
                    self.expect(",")
            self.expect(":")
        return inner, tuple(args)

    def finish_op(self, head: _Head, regions: tuple[Block, ...], scope: _Scope) -> Op:
        names = head.result_names
        if len(names) == 1:  # the common case, without a generator
            results: tuple[Value, ...] = (self.define(names[0], head.types[0], scope),)
        else:
            results = tuple(
                self.define(name, value_type, scope)
                for name, value_type in zip(names, head.types, strict=True)
            )
        return head.cls(head.name, head.operands, results, head.attributes, regions, head.loc)

    def op_class(self, name: str) -> type[Op]:
        cls = self.classes.get(name)
        if cls is None:
            cls = op_class(name)
            if cls is None:
                raise NotFast(f"unknown op {name}")
            self.classes[name] = cls
        return cls

    def op_head(self, scope: _Scope) -> _Head:
        """An op up to its regions: the canonical spelling in one match, else piece by piece."""
        start = self.pos
        match = _CANONICAL_OP.match(self.text, start)
        if match is not None:
            results, name, operands, attributes, types, loc = match.groups()
            self.pos = match.end()
            if self.canonical_end(attributes is None, types is None, loc is None):
                result_names = [r[1:] for r in results.split(", ")] if results else []
                result_types = self.result_types(types) if types else []
                if len(result_names) != len(result_types):
                    raise NotFast("results and result types differ in number")
                return _Head(
                    self.op_class(name),
                    name,
                    result_names,
                    result_types,
                    self.canonical_operands(operands, scope) if operands else (),
                    self.cached_attr_dict(attributes) if attributes else _NO_ATTRIBUTES,
                    self.cached_loc(loc) if loc else _NO_LOC,
                )
            self.pos = start
        return self.general_op_head(scope)

    def canonical_end(self, no_attributes: bool, no_types: bool, no_loc: bool) -> bool:
        """Whether the canonical match read the whole op: what follows starts a region, the next
        op or the end of the block, and not a piece the match skipped for its spelling."""
        text = self.text
        position = self.skip()
        following = text[position : position + 1]
        if following in ("%", "}"):
            return True
        if following == "{":
            return not (no_attributes and _ATTR_DICT_START.match(text, position))
        if following == ":":
            return not no_types
        if OPNAME_RE.match(text, position):
            return True
        return not (no_loc and text.startswith("loc", position))

    def general_op_head(self, scope: _Scope) -> _Head:
        result_names: list[str] = []
        if self.peek() == "%":
            result_names.append(self.token(VALUE_RE)[1:])
            while self.accept(","):
                result_names.append(self.token(VALUE_RE)[1:])
            self.expect("=")
        name = self.token(OPNAME_RE)
        cls = self.op_class(name)
        self.expect("(")
        operands: list[Operand] = []
        if not self.accept(")"):
            while True:
                operands.append(self.operand(scope))
                if self.accept(")"):
                    break
                self.expect(",")
        attributes = DictAttr()
        self.skip()
        if _ATTR_DICT_START.match(self.text, self.pos):
            attributes = self.attr_dict()
        types: list[Type] = []
        if self.accept(":"):
            if self.accept("("):
                types.append(self.type())
                while self.accept(","):
                    types.append(self.type())
                self.expect(")")
                if len(types) < 2:
                    raise NotFast("a parenthesised result type list needs two types")
            else:
                types.append(self.type())
        loc = Loc()
        self.skip()
        if not OPNAME_RE.match(self.text, self.pos) and self.keyword("loc"):
            loc = self.loc_body()
        if len(result_names) != len(types):
            raise NotFast("results and result types differ in number")
        return _Head(cls, name, result_names, types, tuple(operands), attributes, loc)

    def canonical_operands(self, text: str, scope: _Scope) -> tuple[Operand, ...]:
        operands: list[Operand] = []
        for item in _LIST_OR_ITEM.findall(text):
            if item[0] != "[":
                operands.append(_item(item, scope))
                continue
            inner = item[1:-1]
            items = tuple(_item(i, scope) for i in inner.split(", ")) if inner else ()
            if any(isinstance(i, Value) for i in items):
                operands.append(OperandList(items))
            else:
                operands.append(ListAttr(items))  # type: ignore[arg-type]
        return tuple(operands)

    def operand(self, scope: _Scope, depth: int = 0) -> Operand:
        """One operand in any spelling: a value, a list of operands, or a literal."""
        following = self.peek()
        if following == "%":
            name = self.token(VALUE_RE)[1:]
            if name not in scope:
                raise NotFast(f"use of undefined value %{name}")
            return scope[name]
        if following != "[":
            return self.attribute(depth)
        if depth > MAX_FAST_ATTRIBUTE_DEPTH:
            raise NotFast("lists nested too deep")
        self.pos += 1
        items: list[Operand] = []
        if not self.accept("]"):
            while True:
                items.append(self.operand(scope, depth + 1))
                if self.accept("]"):
                    break
                self.expect(",")
        if any(isinstance(i, Value | OperandList) for i in items):
            return OperandList(tuple(items))
        return ListAttr(tuple(items))  # type: ignore[arg-type]


def _item(text: str, scope: _Scope) -> Operand:
    """One item of a canonical operand list: a value, an integer or none."""
    if text[0] == "%":
        value = scope.get(text[1:])
        if value is None:
            raise NotFast(f"use of undefined value {text}")
        return value
    if text == "none":
        return NoneAttr()
    return IntAttr(int(text))


class _Head:
    """An op read up to its regions."""

    __slots__ = ("attributes", "cls", "loc", "name", "operands", "result_names", "types")

    def __init__(
        self,
        cls: type[Op],
        name: str,
        result_names: list[str],
        types: list[Type],
        operands: tuple[Operand, ...],
        attributes: DictAttr,
        loc: Loc,
    ) -> None:
        self.cls = cls
        self.name = name
        self.result_names = result_names
        self.types = types
        self.operands = operands
        self.attributes = attributes
        self.loc = loc


def read_fast(text: str) -> Module:
    """The module ``text`` spells, unverified; raises ``NotFast`` where lark must decide."""
    return FastReader(text).module()
