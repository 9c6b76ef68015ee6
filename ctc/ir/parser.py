"""The parser: IR text -> ``Module``, with every error located (``file:line:col`` and a caret).

lark (LALR, grammar in ``grammar.lark``) is the definition of the language and reports every
error. It builds light raw records with token positions; ``_Resolver`` binds each ``%name`` to
its definition in scope, builds the frozen ops through the registry, and the verifier runs, each
problem mapped back to its op's position.

Beside it, ``fast_parser.read_fast`` reads the same language (a subset of it: what the printer
writes and the usual hand-written variations) several times faster. ``parse_module`` tries it
first and hands the text to lark wherever it stops, or where the module it read fails to verify,
so every error message comes from lark. ``PARSE_COUNTS`` counts which reader read each text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import lark
from lark import Token

from ctc.errors import Diagnostic, SourceError
from ctc.ir.attributes import (
    Attribute,
    BoolAttr,
    DictAttr,
    FloatAttr,
    IntAttr,
    ListAttr,
    NoneAttr,
    StrAttr,
    TagAttr,
    attr_problems,
)
from ctc.ir.core import Block, Func, Loc, Module, Op, Operand, OperandList, Value
from ctc.ir.fast_parser import NotFast, read_fast
from ctc.ir.ops import OP_CLASSES, op_class
from ctc.ir.types import (
    DTYPES,
    MAX_DIM,
    SCALAR_KINDS,
    NoneType,
    OpaqueType,
    ScalarType,
    Type,
    tensor,
)
from ctc.ir.verifier import verify
from ctc.lark_errors import describe_syntax_error

_GRAMMAR = Path(__file__).with_name("grammar.lark")

# What the user is told instead of lark's terminal names.
_FRIENDLY = {
    "VALUE": "a value (%name)",
    "SYMBOL": "a function name (@name)",
    "OPNAME": "an op name (namespace.op)",
    "KEY": "a name",
    "INT": "an integer",
    "FLOAT": "a float",
    "NAN_BITS": "a NaN with bits",
    "STRING": 'a string ("...")',
    "TAG": "a tagged attribute (#dtype<f32>)",
    "LPAR": "'('",
    "RPAR": "')'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "COLON": "':'",
    "EQUAL": "'='",
    "__ANON_0": "'->'",
    "MODULE": "'module'",
    "FUNC": "'func'",
    "LOC": "'loc'",
    "NONE": "'none'",
    "TRUE": "'true'",
    "FALSE": "'false'",
    "STRIDES": "'strides'",
}


@attrs.frozen
class _RawValue:
    token: Token


@attrs.frozen
class _RawList:
    items: tuple[object, ...]


@attrs.define
class _RawRegion:
    args: list[tuple[Token, Type]]
    ops: list[_RawOp]


@attrs.define
class _RawOp:
    results: list[Token]
    name: Token
    operands: list[object]
    attributes: DictAttr
    types: list[Type]
    loc: Loc
    regions: list[_RawRegion]


@attrs.define
class _RawFunc:
    name: Token
    args: list[tuple[Token, Type, DictAttr]]
    results: list[tuple[Type, DictAttr]]
    attributes: DictAttr
    ops: list[_RawOp]


class _LocatedError(Exception):
    def __init__(self, token: Token | None, message: str) -> None:
        super().__init__(message)
        self.token = token
        self.message = message


def _unquote(token: Token) -> str:
    try:
        return str(json.loads(str(token)))
    except ValueError as error:  # the lexer's STRING admits escapes and characters json refuses
        raise _LocatedError(token, f"bad string {token}: {error.args[0].split(':')[0]}") from None


@lark.v_args(inline=True)
class _Builder(lark.Transformer):
    """Turns parse-tree nodes into raw records as the LALR parser reduces them."""

    def start(self, *items: object) -> tuple[DictAttr, list[_RawFunc]]:
        attributes = items[0] if items and isinstance(items[0], DictAttr) else DictAttr()
        funcs = [item for item in items if isinstance(item, _RawFunc)]
        return attributes, funcs

    def func(self, name: Token, *items: object) -> _RawFunc:
        args = [i for i in items if isinstance(i, tuple) and len(i) == 3]
        results = [i for i in items if isinstance(i, tuple) and len(i) == 2]
        dicts = [i for i in items if isinstance(i, DictAttr)]
        ops = [i for i in items if isinstance(i, _RawOp)]
        return _RawFunc(name, args, results, dicts[0] if dicts else DictAttr(), ops)

    def func_arg(
        self, token: Token, value_type: Type, attributes: DictAttr | None = None
    ) -> tuple[Token, Type, DictAttr]:
        return (token, value_type, attributes or DictAttr())

    def func_result(
        self, value_type: Type, attributes: DictAttr | None = None
    ) -> tuple[Type, DictAttr]:
        return (value_type, attributes or DictAttr())

    def op(self, results: list[Token] | None, name: Token, *items: object) -> _RawOp:
        operands: list[object] = []
        attributes = DictAttr()
        types: list[Type] = []
        loc = Loc()
        regions: list[_RawRegion] = []
        for item in items:
            if isinstance(item, _OperandItem):
                _check_nesting(item.value, name)
                operands.append(item.value)
            elif isinstance(item, DictAttr):
                attributes = item
            elif isinstance(item, _TypeList):
                types = item.types
            elif isinstance(item, Loc):
                loc = item
            elif isinstance(item, _RawRegion):
                regions.append(item)
        return _RawOp(results or [], name, operands, attributes, types, loc, regions)

    def op_results(self, *tokens: Token) -> list[Token]:
        return list(tokens)

    def result_types(self, *types: Type) -> _TypeList:
        return _TypeList(list(types))

    def loc(self, *entries: tuple[str, Attribute, Token] | None) -> Loc:
        fields: dict[str, object] = {}
        for entry in entries:
            if entry is None:
                continue
            key, value, token = entry
            if key not in Loc.FIELDS:
                raise _LocatedError(
                    token, f"unknown loc field '{key}' (known: {', '.join(Loc.FIELDS)})"
                )
            expected: type = {"annotations": DictAttr, "seq": IntAttr, "ac_graph_id": IntAttr}.get(
                key, StrAttr
            )
            if not isinstance(value, expected):
                kind = {DictAttr: "a dict", IntAttr: "an integer"}.get(expected, "a string")
                raise _LocatedError(token, f"loc field '{key}' takes {kind}, got {value}")
            fields[key] = value if isinstance(value, DictAttr) else value.py
        return Loc(**fields)  # type: ignore[arg-type]

    def region(self, args: list[tuple[Token, Type]] | None, *ops: _RawOp) -> _RawRegion:
        return _RawRegion(args or [], list(ops))

    def block_args(self, *args: tuple[Token, Type] | None) -> list[tuple[Token, Type]]:
        return [a for a in args if a is not None]

    def block_arg(self, token: Token, value_type: Type) -> tuple[Token, Type]:
        return (token, value_type)

    # operands are wrapped so that `op` can tell them from the attribute dict
    def value_operand(self, token: Token) -> _OperandItem:
        return _OperandItem(_RawValue(token))

    def list_operand(self, *items: _OperandItem | Attribute | None) -> _OperandItem:
        values = tuple(_unwrap(i) for i in items if i is not None)
        if any(isinstance(v, _RawValue | _RawList) for v in values):
            return _OperandItem(_RawList(values))
        return _OperandItem(ListAttr(values))  # type: ignore[arg-type]

    def literal_operand(self, value: Attribute) -> _OperandItem:
        return _OperandItem(value)

    # types
    def tensor_type(self, dtype: Token, *items: object) -> Type:
        if str(dtype) not in DTYPES:
            raise _LocatedError(dtype, f"unknown dtype '{dtype}' (known: {', '.join(DTYPES)})")
        dims = tuple(i for i in items if isinstance(i, int | str))
        strides = next((i for i in items if isinstance(i, list)), None)
        return tensor(str(dtype), *dims, strides=None if strides is None else tuple(strides))

    def strides(self, *dims: int | str | None) -> list[int | str]:
        return [d for d in dims if d is not None]

    def named_type(self, token: Token) -> Type:
        if str(token) in SCALAR_KINDS:
            return ScalarType(str(token))
        raise _LocatedError(
            token,
            f"unknown type '{token}': expected a tensor type such as "
            f"f32[2,3], or one of {', '.join(SCALAR_KINDS)}, none",
        )

    def opaque_type(self, token: Token) -> Type:
        return OpaqueType(str(token))

    def none_type(self) -> Type:
        return NoneType()

    def int_dim(self, token: Token) -> int:
        if int(token) < 0:
            raise _LocatedError(token, f"dimension {token} is negative")
        if int(token) > MAX_DIM:
            raise _LocatedError(
                token, f"dimension {token} exceeds 2^48 = {MAX_DIM}, the largest ctc accepts"
            )
        return int(token)

    def symbol_dim(self, token: Token) -> str:
        return str(token)

    def string_dim(self, token: Token) -> str:
        return _unquote(token)

    # attributes
    def attr_dict(self, *entries: tuple[str, Attribute, Token]) -> DictAttr:
        return _make_dict(entries)

    def dict_value(self, *entries: tuple[str, Attribute, Token] | None) -> DictAttr:
        return _make_dict([e for e in entries if e is not None])

    def entry(self, key: Token, value: Attribute | _OperandItem) -> tuple[str, Attribute, Token]:
        name = _unquote(key) if key.type == "STRING" else str(key)
        _check_nesting(_unwrap(value), key)
        return (name, _unwrap(value), key)  # type: ignore[return-value]

    def list_attr(self, *items: Attribute | None) -> ListAttr:
        return ListAttr(tuple(i for i in items if i is not None))

    def int_attr(self, token: Token) -> IntAttr:
        return IntAttr(int(token))

    def float_attr(self, token: Token) -> FloatAttr:
        return FloatAttr.of(float(token))

    def nan_bits_attr(self, token: Token) -> FloatAttr:
        return FloatAttr(int(str(token)[6:-1], 16))

    def str_attr(self, token: Token) -> StrAttr:
        return StrAttr(_unquote(token))

    def true_attr(self) -> BoolAttr:
        return BoolAttr(True)

    def false_attr(self) -> BoolAttr:
        return BoolAttr(False)

    def none_attr(self) -> NoneAttr:
        return NoneAttr()

    def tag_attr(self, token: Token) -> TagAttr:
        text = str(token)[1:-1]
        tag, _, payload = text.partition("<")
        value = TagAttr(tag, payload)
        problems = attr_problems(value)
        if problems:
            raise _LocatedError(token, problems[0])
        return value


@attrs.frozen
class _OperandItem:
    value: object


@attrs.frozen
class _TypeList:
    types: list[Type]


def _unwrap(item: object) -> object:
    return item.value if isinstance(item, _OperandItem) else item


# How deep lists and dicts may nest in an attribute or operand: printing, equality and hashing
# of attributes recurse once per level. Captured programs nest two or three levels.
MAX_ATTRIBUTE_DEPTH = 64


def _check_nesting(value: object, token: Token) -> None:
    """Refuses an attribute or operand nested deeper than ``MAX_ATTRIBUTE_DEPTH``, at ``token``
    (walked with a stack, and only as deep as the limit)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, ListAttr | _RawList):
            children: tuple[object, ...] = item.items
        elif isinstance(item, DictAttr):
            children = tuple(entry for _, entry in item.entries)
        else:
            continue
        if depth == MAX_ATTRIBUTE_DEPTH:
            raise _LocatedError(
                token, f"lists and dicts nest more than {MAX_ATTRIBUTE_DEPTH} levels deep here"
            )
        stack += [(child, depth + 1) for child in children]


def _make_dict(
    entries: list[tuple[str, Attribute, Token]] | tuple[tuple[str, Attribute, Token], ...],
) -> DictAttr:
    seen: set[str] = set()
    for key, _, token in entries:
        if key in seen:
            raise _LocatedError(token, f"attribute '{key}' is given twice")
        seen.add(key)
    return DictAttr(tuple(sorted((key, value) for key, value, _ in entries)))


@cache
def _lark() -> lark.Lark:
    return lark.Lark(
        _GRAMMAR.read_text(),
        parser="lalr",
        lexer="contextual",
        transformer=_Builder(),
        maybe_placeholders=True,
    )


class _Resolver:
    """Binds names to definitions, builds frozen ops, remembers where each op was written."""

    def __init__(self) -> None:
        self.positions: dict[int, Token] = {}
        self.function_positions: dict[str, Token] = {}

    def func(self, raw: _RawFunc) -> Func:
        self.function_positions[str(raw.name)[1:]] = raw.name
        scope: dict[str, Value] = {}
        args = tuple(self._define(token, value_type, scope) for token, value_type, _ in raw.args)
        ops = self._block_ops(raw.ops, scope)
        arg_attrs = tuple(attributes for _, _, attributes in raw.args)
        result_types = tuple(value_type for value_type, _ in raw.results)
        result_attrs = tuple(attributes for _, attributes in raw.results)
        return Func(
            str(raw.name)[1:],
            Block(ops, args),
            result_types,
            arg_attrs,
            result_attrs,
            raw.attributes,
        )

    def _define(self, token: Token, value_type: Type, scope: dict[str, Value]) -> Value:
        name = str(token)[1:]
        if name in scope:
            raise _LocatedError(token, f"value %{name} is defined twice")
        value = Value(name, value_type)
        scope[name] = value
        return value

    def _operand(self, item: object, scope: dict[str, Value]) -> Operand:
        if isinstance(item, _RawValue):
            name = str(item.token)[1:]
            if name not in scope:
                raise _LocatedError(item.token, f"use of undefined value %{name}")
            return scope[name]
        if isinstance(item, _RawList):
            return OperandList(tuple(self._operand(i, scope) for i in item.items))
        return item  # type: ignore[return-value]

    def _block_ops(self, raw_ops: list[_RawOp], scope: dict[str, Value]) -> tuple[Op, ...]:
        """The ops of a block. An op with regions waits on an explicit stack while its regions
        are built, so regions nest to any depth without recursion."""
        stack = [_Frame(iter(raw_ops), [], scope, None)]
        while True:
            frame = stack[-1]
            raw = next(frame.pending, None)
            if raw is not None:
                opened = self._start_op(raw, frame)
                if opened is not None:
                    stack.append(opened)
                continue
            stack.pop()
            owner = frame.owner
            if owner is None:
                return tuple(frame.built)
            owner.regions.append(Block(tuple(frame.built), frame.args))
            if len(owner.regions) < len(owner.raw.regions):
                stack.append(self._region_frame(owner))
            else:
                stack[-1].built.append(self._finish_op(owner))

    def _start_op(self, raw: _RawOp, frame: _Frame) -> _Frame | None:
        """Checks and resolves ``raw``; builds it, or returns the frame of its first region."""
        name = str(raw.name)
        cls = op_class(name)
        if cls is None:
            namespace = name.partition(".")[0]
            known = ", ".join(n for n in OP_CLASSES if n.startswith(namespace + "."))
            raise _LocatedError(
                raw.name, f"unknown op '{name}' (the {namespace} namespace has: {known})"
            )
        if len(raw.results) != len(raw.types):
            raise _LocatedError(
                raw.name,
                f"{name} names {len(raw.results)} results but gives {len(raw.types)} result types",
            )
        operands = tuple(self._operand(o, frame.scope) for o in raw.operands)
        owner = _PendingOp(raw, cls, operands, frame.scope, [])
        if raw.regions:
            return self._region_frame(owner)
        frame.built.append(self._finish_op(owner))
        return None

    def _region_frame(self, owner: _PendingOp) -> _Frame:
        raw_region = owner.raw.regions[len(owner.regions)]
        inner = owner.scope if owner.cls.TRANSPARENT_REGIONS else {}
        args = tuple(self._define(t, ty, inner) for t, ty in raw_region.args)
        return _Frame(iter(raw_region.ops), [], inner, owner, args)

    def _finish_op(self, owner: _PendingOp) -> Op:
        raw = owner.raw
        results = tuple(
            self._define(t, ty, owner.scope) for t, ty in zip(raw.results, raw.types, strict=True)
        )
        op = owner.cls(
            str(raw.name), owner.operands, results, raw.attributes, tuple(owner.regions), raw.loc
        )
        self.positions[id(op)] = raw.name
        return op


@attrs.define
class _PendingOp:
    """An op whose regions are being built."""

    raw: _RawOp
    cls: type[Op]
    operands: tuple[Operand, ...]
    scope: dict[str, Value]  # where its results are defined
    regions: list[Block]


@attrs.define
class _Frame:
    """A block being built: the raw ops left, the ops built, its scope, the op it belongs to."""

    pending: Iterator[_RawOp]
    built: list[Op]
    scope: dict[str, Value]
    owner: _PendingOp | None
    args: tuple[Value, ...] = ()


@attrs.define
class ParseCounts:
    """Which reader read the texts ``parse_module`` was given in this process (for benches)."""

    fast: int = 0  # read by the fast reader
    fallback: int = 0  # valid, but read by lark because the fast reader stopped
    rejected: int = 0  # invalid: lark reported the error
    last_fallback: str = ""  # why the fast reader stopped on the last fallback


PARSE_COUNTS = ParseCounts()

_BYTE_ORDER_MARK = "\ufeff"


def parse_module(
    text: str, filename: str = "<string>", verify_module: bool = True, *, reader: str = "auto"
) -> Module:
    """Parses IR text. Raises ``SourceError`` with the location of every problem found.

    A leading UTF-8 byte-order mark is ignored. ``reader="lark"`` skips the fast reader (tests
    compare the two)."""
    if text.startswith(_BYTE_ORDER_MARK):
        text = text[1:]
    stopped = "not tried"
    if reader == "auto":
        try:
            module = read_fast(text)
        except NotFast as reason:
            stopped = str(reason)
        else:
            if not verify_module or not verify(module):
                PARSE_COUNTS.fast += 1
                return module
            stopped = ""  # it read the text, which is invalid: lark locates the problems
    try:
        module = _parse_with_lark(text, filename, verify_module)
    except SourceError:
        PARSE_COUNTS.rejected += 1
        raise
    if reader == "auto":
        PARSE_COUNTS.fallback += 1
        PARSE_COUNTS.last_fallback = stopped
    return module


def _parse_with_lark(text: str, filename: str, verify_module: bool) -> Module:
    try:
        parsed: Any = _lark().parse(text)
        attributes, raw_funcs = parsed
        resolver = _Resolver()
        module = Module(tuple(resolver.func(f) for f in raw_funcs), attributes)
    except _LocatedError as error:
        line, column = (error.token.line, error.token.column) if error.token else (1, 1)
        raise SourceError.at(filename, text, line or 1, column or 1, error.message) from None
    except lark.exceptions.UnexpectedInput as error:
        raise SourceError.at(
            filename,
            text,
            error.line if error.line > 0 else 1,
            error.column if error.column > 0 else 1,
            describe_syntax_error(error, _FRIENDLY, "input"),
        ) from None
    if verify_module:
        problems = verify(module)
        if problems:
            diagnostics = []
            for problem in problems:
                if problem.op is not None:
                    token = resolver.positions.get(id(problem.op))
                else:
                    token = resolver.function_positions.get(problem.function or "")
                line, column = (token.line or 1, token.column or 1) if token else (1, 1)
                diagnostics.append(Diagnostic(line, column, str(problem)))
            raise SourceError(filename, text, diagnostics)
    return module


def parse_file(path: str | Path) -> Module:
    path = Path(path)
    return parse_module(path.read_text(encoding="utf-8"), str(path))
