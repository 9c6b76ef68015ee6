"""Pipeline text -> syntax tree (``Item``s with positions), with located syntax errors.

The tree says nothing about meaning yet: ``ctc.dsl.build`` decides what each name is. Every node
keeps the line and column where it starts, so later errors point at the user's text.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import lark
from lark import Token

from ctc.errors import SourceError
from ctc.lark_errors import describe_syntax_error
from ctc.passes.options import Literal, OptionValueError, Size, Word

_GRAMMAR = Path(__file__).with_name("grammar.lark")

# What the user is told instead of lark's terminal names.
_FRIENDLY = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": 'a string ("...")',
    "LPAR": "'('",
    "RPAR": "')'",
    "OPEN_LIST": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "EQUAL": "'='",
}


@attrs.frozen
class Position:
    """Where a node starts in the pipeline text; line and column count from 1."""

    line: int
    column: int


@attrs.frozen
class Item:
    """``name`` or ``name(arguments)``; ``arguments`` is None when there are no parentheses."""

    name: str
    position: Position
    arguments: tuple[Argument, ...] | None = None


@attrs.frozen
class Argument:
    """A positional argument (``key`` None) or ``key=value``."""

    value: Value
    key: str | None = None
    key_position: Position | None = None


@attrs.frozen
class Value:
    """An argument's value: a literal, or an ``Item`` (a pass inside a stage, or a mistake)."""

    position: Position
    literal: Literal | None = None
    item: Item | None = None
    items: tuple[Value, ...] | None = None  # a list, with each element's position

    def at_path(self, path: tuple[int, ...]) -> Value:
        """The element of a (nested) list that ``path`` indexes, for locating an error."""
        node = self
        for index in path:
            if node.items is None or index >= len(node.items):
                break
            node = node.items[index]
        return node


def _position(token: Token) -> Position:
    return Position(token.line or 1, token.column or 1)


class _LocatedError(Exception):
    def __init__(self, position: Position, message: str) -> None:
        super().__init__(message)
        self.position = position
        self.message = message


_NUMBER = re.compile(
    r"(?P<number>[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)(?P<unit>[A-Za-z][A-Za-z0-9]*)?\Z"
)


def _number(token: Token) -> int | float | Size:
    """An int, a float, or (with a unit) a size; the grammar's NUMBER has the same shape."""
    match = _NUMBER.match(str(token))
    assert match is not None, f"NUMBER token {token!r} does not match its own pattern"
    number, unit = match.group("number"), match.group("unit")
    if unit:
        try:
            return Size.parse(number, unit)
        except OptionValueError as error:
            raise _LocatedError(_position(token), error.message) from None
    if any(c in number for c in ".eE"):
        return float(number)
    return int(number)


@lark.v_args(inline=True)
class _Builder(lark.Transformer[Token, Any]):
    def start(self, *items: Item | None) -> tuple[Item, ...]:
        return tuple(item for item in items if item is not None)

    def item(self, name: Token, arguments: tuple[Argument, ...] | None) -> Item:
        return Item(str(name), _position(name), arguments)

    def arguments(self, *arguments: Argument | None) -> tuple[Argument, ...]:
        return tuple(argument for argument in arguments if argument is not None)

    def keyword_argument(self, key: Token, value: Value) -> Argument:
        return Argument(value, str(key), _position(key))

    def positional_argument(self, value: Value) -> Argument:
        return Argument(value)

    def item_value(self, item: Item) -> Value:
        literal = Word(item.name) if item.arguments is None else None
        return Value(item.position, literal=literal, item=item)

    def number_value(self, token: Token) -> Value:
        return Value(_position(token), literal=_number(token))

    def string_value(self, token: Token) -> Value:
        return Value(_position(token), literal=str(json.loads(str(token))))

    def list_value(self, opening: Token, *values: Value | None) -> Value:
        elements = tuple(value for value in values if value is not None)
        if any(element.literal is None for element in elements):
            bad = next(element for element in elements if element.literal is None)
            raise _LocatedError(bad.position, "a list holds values, not passes with arguments")
        literal = tuple(element.literal for element in elements)
        return Value(_position(opening), literal=literal, items=elements)


@cache
def _lark() -> lark.Lark:
    return lark.Lark(
        _GRAMMAR.read_text(),
        parser="lalr",
        lexer="contextual",
        propagate_positions=False,
        maybe_placeholders=True,
    )


def parse_syntax(text: str, filename: str = "<pipeline>") -> tuple[Item, ...]:
    """The items of a pipeline string; raises ``SourceError`` at the first syntax error."""
    try:
        tree = _lark().parse(text)
        items: tuple[Item, ...] = _Builder().transform(tree)
        return items
    except lark.exceptions.VisitError as error:
        original = error.orig_exc
        if isinstance(original, _LocatedError):
            position = original.position
            raise SourceError.at(
                filename, text, position.line, position.column, original.message
            ) from None
        raise
    except lark.exceptions.UnexpectedInput as error:
        line, column = _error_position(text, error)
        message = describe_syntax_error(error, _FRIENDLY, "pipeline") + _quote_hint(text, error)
        raise SourceError.at(filename, text, line, column, message) from None


# An option value that runs on past where a name or number ends (a path, "h100-ib").
_UNQUOTED_VALUE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([^\s,()\[\]\"=]+)\Z")
_VALUE_REST = re.compile(r"[^\s,()\[\]\"=]*")


def _quote_hint(text: str, error: lark.exceptions.UnexpectedInput) -> str:
    """For ``device=/tmp/p.json``: how to quote the value, since the grammar's names and numbers
    cannot hold ``/``, ``.`` or ``-``."""
    position = getattr(error, "pos_in_stream", None)
    if not isinstance(error, lark.exceptions.UnexpectedCharacters) or position is None:
        return ""
    rest = _VALUE_REST.match(text, position)
    end = rest.end() if rest else position
    found = _UNQUOTED_VALUE.search(text[:end])
    if found is None:
        return ""
    key, value = found.groups()
    return f"; a value such as a file path is quoted: {key}={json.dumps(value)}"


def _error_position(text: str, error: lark.exceptions.UnexpectedInput) -> tuple[int, int]:
    at_end = isinstance(error, lark.exceptions.UnexpectedEOF) or (
        isinstance(error, lark.exceptions.UnexpectedToken) and error.token.type == "$END"
    )
    if error.line > 0 and error.column > 0 and not at_end:
        return error.line, error.column
    lines = text.rstrip().split("\n")
    return len(lines), len(lines[-1]) + 1
