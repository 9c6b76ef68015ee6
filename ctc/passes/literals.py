"""The literals of the pipeline language, as option kinds receive them: bare words, numbers,
quoted strings, sizes with a unit, and tuples for lists; and how strings and sizes print back.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from typing import Any

import attrs

# Decimal units are powers of 10, binary units powers of 2: 25MB = 25*10^6 bytes, 24MiB = 24*2^20.
SIZE_UNITS: dict[str, int] = {
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}

# Bare words that mean a value of their own; a string spelled like one prints quoted.
KEYWORDS = frozenset({"true", "false", "none"})
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class OptionValueError(ValueError):
    """A literal or value that an option kind does not accept. ``path`` is the index of the
    offending item inside a list literal (empty: the whole value)."""

    def __init__(self, message: str, path: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@attrs.frozen
class Word:
    """A bare identifier in option position: ``block`` in ``bucket(block)``."""

    text: str


@attrs.frozen
class Size:
    """A byte count written with a unit; it prints back in the unit it was given."""

    bytes: int
    unit: str = "B"

    @classmethod
    def parse(cls, number: str, unit: str) -> Size:
        """``number`` (decimal digits, maybe a fraction) times ``unit``; a whole count of bytes."""
        if unit not in SIZE_UNITS:
            close = [known for known in SIZE_UNITS if known.lower() == unit.lower()]
            hint = f"; did you mean '{close[0]}'?" if close else ""
            known = ", ".join(SIZE_UNITS)
            raise OptionValueError(f"unknown size unit '{unit}'{hint} (known: {known})")
        if number.startswith("-"):
            raise OptionValueError(f"a size cannot be negative: {number}{unit}")
        exact = Fraction(number.lstrip("+")) * SIZE_UNITS[unit]
        if exact.denominator != 1:
            raise OptionValueError(f"{number}{unit} is not a whole number of bytes")
        return cls(int(exact), unit)

    def __str__(self) -> str:
        # Unit factors are 2^a * 5^b, so the quotient always has a finite decimal expansion.
        quotient = Fraction(self.bytes, SIZE_UNITS.get(self.unit, 1))
        digits = 0
        while (quotient * 10**digits).denominator != 1:
            digits += 1
        scaled = int(quotient * 10**digits)
        if digits == 0:
            return f"{scaled}{self.unit}"
        whole, fraction = divmod(scaled, 10**digits)
        return f"{whole}.{fraction:0{digits}d}".rstrip("0") + self.unit


# What a pipeline literal may be once the DSL has read it.
Literal = Word | int | float | str | Size | tuple[Any, ...]


def describe_literal(value: object) -> str:
    """A literal as the user wrote it, for error messages."""
    if isinstance(value, Word):
        return value.text
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(describe_literal(v) for v in value) + "]"
    return str(value)


def format_string(value: str) -> str:
    """A string bare when it reads back as the same string, quoted otherwise."""
    if _WORD.match(value) and value not in KEYWORDS:
        return value
    return json.dumps(value)
