"""Typed attribute values: the constants that ops, functions and the module carry.

Each kind is its own frozen class so that structural equality is exact: ``IntAttr(1)`` is not
``BoolAttr(True)``, and a float compares by its IEEE bits (NaN equals the same NaN, ``-0.0`` is not
``0.0``). ``to_attr`` and ``.py`` convert from and to plain Python values for pass authors.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterator, Mapping

import attrs

# The tags of ``#tag<payload>`` attributes: torch objects that appear as op arguments, and
# ``#region<i>``, which stands for the sub-graph in region i of a higher-order op.
TAGS: tuple[str, ...] = ("dtype", "device", "layout", "memory_format", "op", "region")
_TAG_PAYLOAD = re.compile(r"[A-Za-z0-9_:.]+\Z")


def _float_bits(value: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", value))[0])


def _bits_to_float(bits: int) -> float:
    return float(struct.unpack("<d", struct.pack("<Q", bits))[0])


_CANONICAL_NAN_BITS = _float_bits(float("nan"))


@attrs.frozen
class IntAttr:
    value: int

    @property
    def py(self) -> int:
        return self.value

    def __str__(self) -> str:
        return str(self.value)


@attrs.frozen
class FloatAttr:
    """A float stored as its 64 IEEE bits, so that equality and hashing are exact."""

    bits: int

    @classmethod
    def of(cls, value: float) -> FloatAttr:
        return cls(_float_bits(value))

    @property
    def py(self) -> float:
        return _bits_to_float(self.bits)

    def __str__(self) -> str:
        value = self.py
        if math.isnan(value):
            if self.bits == _CANONICAL_NAN_BITS:
                return "nan"
            return f"nan<0x{self.bits:016x}>"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)


@attrs.frozen
class BoolAttr:
    value: bool

    @property
    def py(self) -> bool:
        return self.value

    def __str__(self) -> str:
        return "true" if self.value else "false"


@attrs.frozen
class StrAttr:
    value: str

    @property
    def py(self) -> str:
        return self.value

    def __str__(self) -> str:
        return json.dumps(self.value)


@attrs.frozen
class NoneAttr:
    @property
    def py(self) -> None:
        return None

    def __str__(self) -> str:
        return "none"


@attrs.frozen
class TagAttr:
    """A torch object named by a tag and a payload: ``#dtype<bf16>``, ``#device<cuda:0>``."""

    tag: str
    value: str

    @property
    def py(self) -> TagAttr:
        return self

    def __str__(self) -> str:
        return f"#{self.tag}<{self.value}>"


@attrs.frozen
class ListAttr:
    items: tuple[Attribute, ...]

    @property
    def py(self) -> list[object]:
        return [item.py for item in self.items]

    def __str__(self) -> str:
        return "[" + ", ".join(str(item) for item in self.items) + "]"


@attrs.frozen
class DictAttr:
    """String keys to attributes, kept sorted by key: the one canonical order."""

    entries: tuple[tuple[str, Attribute], ...] = ()

    def __attrs_post_init__(self) -> None:
        keys = [key for key, _ in self.entries]
        if keys != sorted(set(keys)):
            object.__setattr__(self, "entries", tuple(sorted(dict(self.entries).items())))

    @classmethod
    def of(cls, mapping: Mapping[str, object]) -> DictAttr:
        return cls(tuple(sorted((key, to_attr(value)) for key, value in mapping.items())))

    def get(self, key: str) -> Attribute | None:
        for entry_key, value in self.entries:
            if entry_key == key:
                return value
        return None

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def with_entry(self, key: str, value: object) -> DictAttr:
        mapping = dict(self.entries)
        mapping[key] = to_attr(value)
        return DictAttr(tuple(sorted(mapping.items())))

    def without(self, key: str) -> DictAttr:
        return DictAttr(tuple(entry for entry in self.entries if entry[0] != key))

    @property
    def py(self) -> dict[str, object]:
        return {key: value.py for key, value in self.entries}

    def __str__(self) -> str:
        return "{" + ", ".join(f"{format_key(k)} = {v}" for k, v in self.entries) + "}"


Attribute = IntAttr | FloatAttr | BoolAttr | StrAttr | NoneAttr | TagAttr | ListAttr | DictAttr

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Words of the text syntax; a key spelled like one is quoted.
KEYWORDS = frozenset(
    {
        "true",
        "false",
        "none",
        "inf",
        "nan",
        "loc",
        "func",
        "module",
        "int",
        "float",
        "bool",
        "opaque",
    }
)


def format_key(key: str) -> str:
    """Keys print bare when they are identifiers (and not keywords), quoted otherwise."""
    return key if _KEY.match(key) and key not in KEYWORDS else json.dumps(key)


def to_attr(value: object) -> Attribute:
    """Converts a plain Python value (or an attribute, unchanged) into an attribute."""
    if isinstance(
        value, IntAttr | FloatAttr | BoolAttr | StrAttr | NoneAttr | TagAttr | ListAttr | DictAttr
    ):
        return value
    if value is None:
        return NoneAttr()
    if isinstance(value, bool):
        return BoolAttr(value)
    if isinstance(value, int):
        return IntAttr(value)
    if isinstance(value, float):
        return FloatAttr.of(value)
    if isinstance(value, str):
        return StrAttr(value)
    if isinstance(value, list | tuple):
        return ListAttr(tuple(to_attr(item) for item in value))
    if isinstance(value, Mapping):
        return DictAttr.of(value)
    raise TypeError(f"cannot make an attribute of {type(value).__name__}: {value!r}")


def attr_problems(value: Attribute) -> list[str]:
    """What is malformed about an attribute built by hand (the parser cannot produce these)."""
    if isinstance(value, TagAttr):
        problems = []
        if value.tag not in TAGS:
            problems.append(f"unknown attribute tag '#{value.tag}' (known: {', '.join(TAGS)})")
        if not _TAG_PAYLOAD.match(value.value):
            problems.append(f"bad payload '{value.value}' in #{value.tag}<...>")
        return problems
    if isinstance(value, ListAttr):
        return [p for item in value.items for p in attr_problems(item)]
    if isinstance(value, DictAttr):
        return [p for _, item in value.entries for p in attr_problems(item)]
    return []
