"""The pieces of IR text the fast reader (``fast_parser.py``) reads token by token: types,
attribute values and dicts, locs. A piece that repeats (a type, an attribute dict, a loc) is read
once per text and cached by its spelling.

The readers follow lark's terminals (``grammar.lark``), spelled the same way below, and raise
``NotFast`` on anything they would have to refuse or do not read, leaving it to lark. Where
lark's contextual lexer reads a word as a keyword depends on the parser state; the states where
that matters are three, and the readers follow them: ``func`` first in the module's braces opens
the body, ``strides`` after a dimension's comma starts the strides, ``none`` and ``opaque`` are
types where a type stands. Elsewhere a keyword is a name (``loc(module = ...)``).
"""

from __future__ import annotations

import json
import re

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
from ctc.ir.core import Loc
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


class NotFast(Exception):
    """The fast reader stops here; lark reads the text instead (and reports any error)."""


# The terminals of grammar.lark, spelled the same way.
SPACE = r"(?:[ \t\f\r\n]+|//[^\n]*)*"  # lark's WS and COMMENT, both ignored
_VALUE = r"%[A-Za-z0-9_][A-Za-z0-9_.$\-]*"
_SYMBOL = r"@[A-Za-z0-9_][A-Za-z0-9_.$\-]*"
OPNAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+"
KEY = r"[A-Za-z_][A-Za-z0-9_]*"
_FLOAT = r"-?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)|-?inf\b|nan\b(?!<)"
_NAN_BITS = r"nan<0x[0-9a-f]{16}>"
_INT = r"-?\d+"
STRING = r'"(?:[^"\\\n]|\\.)*"'
_TAG = r"#[A-Za-z_]+<[A-Za-z0-9_:.]+>"

_SKIP = re.compile(SPACE)
SPACE_STARTS = " \t\f\r\n/"
VALUE_RE = re.compile(_VALUE)
SYMBOL_RE = re.compile(_SYMBOL)
OPNAME_RE = re.compile(OPNAME)
_KEY_RE = re.compile(KEY)
_STRING_RE = re.compile(STRING)
_INT_RE = re.compile(_INT)
_TAG_RE = re.compile(_TAG)
# lark tries the terminals of the highest priority first: FLOAT and NAN_BITS (3), then INT (2).
_NUMBER_RE = re.compile(rf"({_FLOAT})|({_NAN_BITS})|({_INT})")
_WORD_END = re.compile(r"(?![A-Za-z0-9_])")

# Quantifiers in the patterns below are possessive (lark's tokens never give back characters
# either), which keeps a failed match from backtracking.
STRING_POSSESSIVE = r'"(?:[^"\\\n]++|\\.)*+"'
SPACE_POSSESSIVE = r"(?:[ \t\f\r\n]++|//[^\n]*+)*+"
# A type as the printer writes it (read once per spelling, piece by piece).
TYPE = rf"(?:opaque<[^<>]*+>|{KEY}(?:\[(?:[^\[\]\"]++|{STRING_POSSESSIVE}|\[[^\[\]\"]*+\])*+\])?)"
TYPE_RE = re.compile(TYPE)
# A loc as the printer writes it: its fields in order, ", " only between them.
_LOC_FIELD = r"(?:(?:(?<=\()|(?<!\(), ){name} = ({value}))?"
_CANONICAL_LOC = re.compile(
    r"loc\("
    + _LOC_FIELD.format(name="ac_graph_id", value=_INT)
    + _LOC_FIELD.format(name="annotations", value=rf"\{{(?:[^{{}}\"]++|{STRING_POSSESSIVE})*+\}}")
    + _LOC_FIELD.format(name="module", value=STRING_POSSESSIVE)
    + _LOC_FIELD.format(name="phase", value=STRING_POSSESSIVE)
    + _LOC_FIELD.format(name="recompute", value=STRING_POSSESSIVE)
    + _LOC_FIELD.format(name="seq", value=_INT)
    + r"\)"
)
# Below the lark path's MAX_ATTRIBUTE_DEPTH (64), so that the fast reader never accepts what
# lark refuses; deeper attributes (none in practice) go to lark.
MAX_FAST_ATTRIBUTE_DEPTH = 32


class PieceReader:
    """Reads pieces of one text from ``pos``; ``FastReader`` reads the structure around them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.types: dict[str, Type] = {}
        self.dicts: dict[str, DictAttr] = {}
        self.locs: dict[str, Loc] = {}
        self.strings: dict[str, str] = {}

    # ---- tokens ----------------------------------------------------------------------------
    def skip(self) -> int:
        if self.text[self.pos : self.pos + 1] in SPACE_STARTS:  # also at the end ("")
            end = _SKIP.match(self.text, self.pos)
            self.pos = end.end() if end else self.pos
        return self.pos

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos : self.pos + 1]

    def accept(self, literal: str) -> bool:
        self.skip()
        if self.text.startswith(literal, self.pos):
            self.pos += len(literal)
            return True
        return False

    def expect(self, literal: str) -> None:
        if not self.accept(literal):
            raise NotFast(f"expected {literal!r} at offset {self.pos}")

    def keyword(self, word: str) -> bool:
        self.skip()
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and _WORD_END.match(self.text, end):
            self.pos = end
            return True
        return False

    def token(self, pattern: re.Pattern[str]) -> str:
        self.skip()
        match = pattern.match(self.text, self.pos)
        if match is None:
            raise NotFast(f"unexpected text at offset {self.pos}")
        self.pos = match.end()
        return match.group()

    def key(self) -> str:
        """An attribute or loc key: a bare name (not a keyword) or a string."""
        if self.peek() == '"':
            return self.unquote(self.token(_STRING_RE))
        return self.token(_KEY_RE)

    def unquote(self, token: str) -> str:
        value = self.strings.get(token)
        if value is None:
            try:
                value = str(json.loads(token))
            except ValueError as error:
                raise NotFast("a string json cannot read") from error
            self.strings[token] = value
        return value

    # ---- types ------------------------------------------------------------------------------
    def colon_type(self) -> Type:
        self.expect(":")
        return self.type()

    def type(self) -> Type:
        self.skip()
        match = TYPE_RE.match(self.text, self.pos)
        if match is not None:
            end = match.end()
            # A type spelled with spaces before its "[" or "<" is read piece by piece.
            after = _SKIP.match(self.text, end)
            following = self.text[after.end() : after.end() + 1] if after else ""
            if following not in ("[", "<"):
                self.pos = end
                return self.cached_type(match.group())
        return self.general_type()

    def cached_type(self, text: str) -> Type:
        value_type = self.types.get(text)
        if value_type is None:
            reader = PieceReader(text)
            value_type = reader.general_type()
            if reader.skip() != len(text):
                raise NotFast(f"type {text!r} does not end where expected")
            self.types[text] = value_type
        return value_type

    def result_types(self, text: str) -> list[Type]:
        if text[0] != "(":
            return [self.cached_type(text)]
        return [self.cached_type(t) for t in TYPE_RE.findall(text, 1)]

    def general_type(self) -> Type:
        if self.keyword("opaque"):
            self.expect("<")
            kind = self.token(_KEY_RE)
            self.expect(">")
            return OpaqueType(kind)
        if self.keyword("none"):
            return NoneType()
        name = self.token(_KEY_RE)
        if not self.accept("["):
            if name not in SCALAR_KINDS:
                raise NotFast(f"unknown type {name!r}")
            return ScalarType(name)
        if name not in DTYPES:
            raise NotFast(f"unknown dtype {name!r}")
        dims: list[int | str] = []
        strides: list[int | str] | None = None
        if not self.accept("]"):
            # "[, strides=[...]]" (no dimensions) is grammatical; "[,2]" is not.
            with_dims = self.peek() != ","
            if with_dims:
                dims.append(self.dim())
            while self.accept(","):
                if self.keyword("strides"):
                    strides = self.strides()
                    break
                if not with_dims:
                    raise NotFast("a dimension list cannot start with a comma")
                dims.append(self.dim())
            self.expect("]")
        return tensor(name, *dims, strides=None if strides is None else tuple(strides))

    def strides(self) -> list[int | str]:
        """The "= [...]" after the keyword strides."""
        self.expect("=")
        self.expect("[")
        strides: list[int | str] = []
        if not self.accept("]"):
            strides.append(self.dim())
            while self.accept(","):
                strides.append(self.dim())
            self.expect("]")
        return strides

    def dim(self) -> int | str:
        following = self.peek()
        if following == '"':
            return self.unquote(self.token(_STRING_RE))
        if following == "-" or following.isdigit():
            number = int(self.token(_INT_RE))
            if not 0 <= number <= MAX_DIM:
                raise NotFast(f"dimension {number} is out of range")
            return number
        return self.token(_KEY_RE)

    # ---- attributes and locs ----------------------------------------------------------------
    def cached_attr_dict(self, text: str, allow_empty: bool = False) -> DictAttr:
        """The attribute dict ``text`` spells (``allow_empty``: a dict value, which may be
        ``{}``)."""
        attributes = self.dicts.get(text)
        if attributes is None:
            reader = PieceReader(text)
            reader.strings = self.strings
            attributes = reader.attr_dict(allow_empty=allow_empty)
            if reader.skip() != len(text):
                raise NotFast("attribute dict does not end where expected")
            self.dicts[text] = attributes
        return attributes

    def cached_dict_value(self, text: str) -> DictAttr:
        return self.cached_attr_dict(text, allow_empty=True)

    def attr_dict(self, depth: int = 0, allow_empty: bool = False) -> DictAttr:
        self.expect("{")
        entries: list[tuple[str, Attribute]] = []
        if not (allow_empty and self.accept("}")):
            while True:
                key = self.key()
                self.expect("=")
                entries.append((key, self.attribute(depth + 1)))
                if self.accept("}"):
                    break
                self.expect(",")
        keys = {key for key, _ in entries}
        if len(keys) != len(entries):
            raise NotFast("an attribute is given twice")
        return DictAttr(tuple(sorted(entries)))

    def attribute(self, depth: int = 0) -> Attribute:
        if depth > MAX_FAST_ATTRIBUTE_DEPTH:
            raise NotFast("attributes nested too deep")
        following = self.peek()
        text = self.text
        if following == "[":
            self.pos += 1
            items: list[Attribute] = []
            if not self.accept("]"):
                while True:
                    items.append(self.attribute(depth + 1))
                    if self.accept("]"):
                        break
                    self.expect(",")
            return ListAttr(tuple(items))
        if following == "{":
            return self.attr_dict(depth + 1, allow_empty=True)
        if following == '"':
            return StrAttr(self.unquote(self.token(_STRING_RE)))
        if following == "#":
            tag, _, payload = self.token(_TAG_RE)[1:-1].partition("<")
            value = TagAttr(tag, payload)
            if attr_problems(value):
                raise NotFast("malformed tag")
            return value
        number = _NUMBER_RE.match(text, self.pos)
        if number is not None:
            self.pos = number.end()
            floating, nan_bits, integer = number.groups()
            if floating is not None:
                return FloatAttr.of(float(floating))
            if nan_bits is not None:
                return FloatAttr(int(nan_bits[6:-1], 16))
            return IntAttr(int(integer))
        for word, attribute in _WORD_ATTRIBUTES:
            if self.keyword(word):
                return attribute
        raise NotFast(f"unexpected attribute at offset {self.pos}")

    def cached_loc(self, text: str) -> Loc:
        loc = self.locs.get(text)
        if loc is not None:
            return loc
        match = _CANONICAL_LOC.fullmatch(text)
        if match is not None:
            ac_graph_id, annotations, module, phase, recompute, seq = match.groups()
            loc = Loc(
                module=None if module is None else self.unquote(module),
                phase=None if phase is None else self.unquote(phase),
                seq=None if seq is None else int(seq),
                recompute=None if recompute is None else self.unquote(recompute),
                ac_graph_id=None if ac_graph_id is None else int(ac_graph_id),
                annotations=None if annotations is None else self.cached_dict_value(annotations),
            )
        else:
            reader = PieceReader(text)
            reader.strings = self.strings
            reader.dicts = self.dicts
            reader.keyword("loc")
            loc = reader.loc_body()
            if reader.skip() != len(text):
                raise NotFast("loc does not end where expected")
        self.locs[text] = loc
        return loc

    def loc_body(self) -> Loc:
        """The "(...)" of a loc, whose keyword was read."""
        self.expect("(")
        fields: dict[str, object] = {}
        if not self.accept(")"):
            while True:
                key = self.key()
                self.expect("=")
                fields[key] = self.attribute()
                if self.accept(")"):
                    break
                self.expect(",")
        return _make_loc(fields)


def _make_loc(fields: dict[str, object]) -> Loc:
    """The Loc of parsed fields, with the same checks as the lark path; NotFast where they fail."""
    values: dict[str, object] = {}
    for key, value in fields.items():
        if key not in Loc.FIELDS:
            raise NotFast(f"unknown loc field {key}")
        if key == "annotations":
            if not isinstance(value, DictAttr):
                raise NotFast("loc annotations take a dict")
            values[key] = value
        elif key in ("seq", "ac_graph_id"):
            if not isinstance(value, IntAttr):
                raise NotFast(f"loc field {key} takes an integer")
            values[key] = value.value
        else:
            if not isinstance(value, StrAttr):
                raise NotFast(f"loc field {key} takes a string")
            values[key] = value.value
    return Loc(**values)  # type: ignore[arg-type]


_WORD_ATTRIBUTES: tuple[tuple[str, Attribute], ...] = (
    ("true", BoolAttr(True)),
    ("false", BoolAttr(False)),
    ("none", NoneAttr()),
)
