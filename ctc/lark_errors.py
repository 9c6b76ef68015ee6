"""Lark's syntax errors in words a user reads, shared by the IR parser and the pipeline parser."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

import lark


def describe_syntax_error(
    error: lark.exceptions.UnexpectedInput, friendly: Mapping[str, str], text_noun: str
) -> str:
    """``unexpected 'x'; expected ...`` with lark's terminal names replaced by ``friendly``
    ones; ``text_noun`` names what ended early (``input``, ``pipeline``)."""
    if isinstance(error, lark.exceptions.UnexpectedEOF):
        return f"unexpected end of {text_noun}" + _expected(error.expected, friendly)
    if isinstance(error, lark.exceptions.UnexpectedToken):
        token = error.token
        found = f"end of {text_noun}" if token.type == "$END" else f"'{token}'"
        return f"unexpected {found}" + _expected(error.expected, friendly)
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        return f"unexpected {describe_character(error.char)}" + _expected(error.allowed, friendly)
    return str(error)


def describe_character(char: str) -> str:
    """``character 'x'``; a character that prints as nothing or as a plain space is named by
    its code point (``byte-order mark U+FEFF``, ``character U+00A0 (NO-BREAK SPACE)``)."""
    if char == "\ufeff":
        return "byte-order mark U+FEFF"
    if char.isprintable():
        return f"character '{char}'"
    name = unicodedata.name(char, "")
    return f"character U+{ord(char):04X}" + (f" ({name})" if name else "")


def _expected(names: Any, friendly: Mapping[str, str]) -> str:
    words = sorted({friendly.get(n, n) for n in names or () if n != "$END"})
    return "; expected " + ", ".join(words) if words else ""
