"""Typed pass options: the values a pipeline string can give, their kinds, and their text.

A pass declares each option as an attrs field made by ``option(kind, default=..., doc=...)``; the
fields are the options. A kind converts a literal of the pipeline language (a bare ``Word``, an
int, a float, a quoted string, a ``Size``, a tuple for a list) into the option's value, checks
values built in Python, prints a value back, and describes itself for ``ctc pipeline --list``.
Printing then parsing a value gives the same value, which makes pipelines round-trip.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import attrs

from ctc.errors import CtcError
from ctc.passes.literals import (
    KEYWORDS,
    SIZE_UNITS,
    Literal,
    OptionValueError,
    Size,
    Word,
    describe_literal,
    format_string,
)
from ctc.schedule.profile import PROFILES, load_profile

# Names pass authors import from here along with the kinds.
__all__ = [
    "KEYWORDS",
    "REQUIRED",
    "SIZE_UNITS",
    "AnyOf",
    "BoolOption",
    "ChoiceOption",
    "FloatOption",
    "IntOption",
    "ListOption",
    "Literal",
    "OptionKind",
    "OptionSpec",
    "OptionValueError",
    "OptionalOption",
    "ProfileOption",
    "Size",
    "SizeOption",
    "StrOption",
    "Word",
    "describe_literal",
    "format_invocation",
    "format_string",
    "option",
    "options_of",
]


class OptionKind(Protocol):
    """What every option kind does; the classes below are the kinds there are."""

    def convert(self, literal: object) -> Any:
        """The value of a pipeline literal; raises ``OptionValueError``."""
        ...

    def check(self, value: object) -> str | None:
        """Why a Python value is not acceptable, or None when it is."""
        ...

    def format(self, value: Any) -> str: ...

    def describe(self) -> str: ...


def _expected(kind: OptionKind, literal: object) -> OptionValueError:
    return OptionValueError(f"expected {kind.describe()}, got {describe_literal(literal)}")


def _range_text(low: float | None, high: float | None, exclusive_low: bool = False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if exclusive_low else '['}{low}, {high}]"
    if low is not None:
        return f" {'>' if exclusive_low else '>='} {low}"
    if high is not None:
        return f" <= {high}"
    return ""


@attrs.frozen
class IntOption:
    minimum: int | None = None
    maximum: int | None = None

    def convert(self, literal: object) -> int:
        if not isinstance(literal, int) or isinstance(literal, bool):
            raise _expected(self, literal)
        problem = self.check(literal)
        if problem:
            raise OptionValueError(problem)
        return literal

    def check(self, value: object) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"expected {self.describe()}, got {value!r}"
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            return f"{value} is out of range: expected {self.describe()}"
        return None

    def format(self, value: int) -> str:
        return str(value)

    def describe(self) -> str:
        return "an int" + _range_text(self.minimum, self.maximum)


@attrs.frozen
class FloatOption:
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False

    def convert(self, literal: object) -> float:
        if not isinstance(literal, int | float) or isinstance(literal, bool):
            raise _expected(self, literal)
        value = float(literal)
        problem = self.check(value)
        if problem:
            raise OptionValueError(problem)
        return value

    def check(self, value: object) -> str | None:
        if not isinstance(value, float):
            return f"expected {self.describe()}, got {value!r}"
        too_low = self.minimum is not None and (
            value <= self.minimum if self.exclusive_minimum else value < self.minimum
        )
        too_high = self.maximum is not None and value > self.maximum
        if not math.isfinite(value) or too_low or too_high:
            return f"{value} is out of range: expected {self.describe()}"
        return None

    def format(self, value: float) -> str:
        return repr(value)

    def describe(self) -> str:
        return "a float" + _range_text(self.minimum, self.maximum, self.exclusive_minimum)


@attrs.frozen
class BoolOption:
    def convert(self, literal: object) -> bool:
        if isinstance(literal, Word) and literal.text in ("true", "false"):
            return literal.text == "true"
        raise _expected(self, literal)

    def check(self, value: object) -> str | None:
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"

    def format(self, value: bool) -> str:
        return "true" if value else "false"

    def describe(self) -> str:
        return "true or false"


@attrs.frozen
class StrOption:
    def convert(self, literal: object) -> str:
        if isinstance(literal, Word):
            return literal.text
        if isinstance(literal, str):
            return literal
        raise _expected(self, literal)

    def check(self, value: object) -> str | None:
        return None if isinstance(value, str) else f"expected a string, got {value!r}"

    def format(self, value: str) -> str:
        return format_string(value)

    def describe(self) -> str:
        return "a string"


@attrs.frozen
class ChoiceOption:
    choices: tuple[str, ...]

    def convert(self, literal: object) -> str:
        text = literal.text if isinstance(literal, Word) else literal
        if isinstance(text, str) and text in self.choices:
            return text
        raise _expected(self, literal)

    def check(self, value: object) -> str | None:
        if value in self.choices:
            return None
        return f"expected {self.describe()}, got {value!r}"

    def format(self, value: str) -> str:
        return format_string(value)

    def describe(self) -> str:
        return "one of " + "|".join(self.choices)


@attrs.frozen
class SizeOption:
    """A byte count such as ``25MB`` or ``24MiB`` (no bare numbers: the unit is the point)."""

    minimum: int = 0

    def convert(self, literal: object) -> Size:
        if not isinstance(literal, Size):
            raise _expected(self, literal)
        problem = self.check(literal)
        if problem:
            raise OptionValueError(problem)
        return literal

    def check(self, value: object) -> str | None:
        if not isinstance(value, Size) or value.unit not in SIZE_UNITS:
            return f"expected {self.describe()}, got {value!r}"
        if value.bytes < self.minimum:
            return f"{value} is out of range: expected {self.describe()}"
        return None

    def format(self, value: Size) -> str:
        return str(value)

    def describe(self) -> str:
        if self.minimum == 1:
            return "a positive size such as 25MB or 24MiB"
        suffix = f" of at least {Size(self.minimum)}" if self.minimum else ""
        return "a size such as 25MB or 24MiB" + suffix


@attrs.frozen
class ProfileOption:
    """A device profile (``ctc.schedule.profile``): a built-in name, or a path to a profile
    file, quoted (``device="/tmp/my.json"``). The profile is read and checked with the option,
    so a bad profile fails when the pipeline is checked, not in the middle of a pass."""

    def convert(self, literal: object) -> str:
        text = literal.text if isinstance(literal, Word) else literal
        if not isinstance(text, str):
            raise _expected(self, literal)
        problem = self.check(text)
        if problem:
            raise OptionValueError(problem)
        return text

    def check(self, value: object) -> str | None:
        if not isinstance(value, str):
            return f"expected {self.describe()}, got {value!r}"
        try:
            load_profile(value)
        except CtcError as error:
            return str(error)
        return None

    def format(self, value: str) -> str:
        return format_string(value)

    def describe(self) -> str:
        return f"a device profile ({', '.join(PROFILES)}, or a quoted path to a .json file)"


@attrs.frozen
class ListOption:
    item: OptionKind

    def convert(self, literal: object) -> tuple[Any, ...]:
        if not isinstance(literal, tuple):
            raise _expected(self, literal)
        values = []
        for index, element in enumerate(literal):
            try:
                values.append(self.item.convert(element))
            except OptionValueError as error:
                raise OptionValueError(error.message, (index, *error.path)) from None
        return tuple(values)

    def check(self, value: object) -> str | None:
        if not isinstance(value, tuple):
            return f"expected a tuple for {self.describe()}, got {value!r}"
        return next((p for p in map(self.item.check, value) if p), None)

    def format(self, value: tuple[Any, ...]) -> str:
        return "[" + ", ".join(self.item.format(v) for v in value) + "]"

    def describe(self) -> str:
        return f"a list, each item {self.item.describe()}"


@attrs.frozen
class AnyOf:
    """The first of several kinds that accepts the value, e.g. a size or a ratio."""

    kinds: tuple[OptionKind, ...]

    def convert(self, literal: object) -> Any:
        for kind in self.kinds:
            try:
                return kind.convert(literal)
            except OptionValueError:
                continue
        raise _expected(self, literal)

    def check(self, value: object) -> str | None:
        if any(kind.check(value) is None for kind in self.kinds):
            return None
        return f"expected {self.describe()}, got {value!r}"

    def format(self, value: Any) -> str:
        kind = next(k for k in self.kinds if k.check(value) is None)
        return kind.format(value)

    def describe(self) -> str:
        return " or ".join(kind.describe() for kind in self.kinds)


@attrs.frozen
class OptionalOption:
    """A kind that also takes ``none``."""

    kind: OptionKind

    def convert(self, literal: object) -> Any:
        if literal == Word("none"):
            return None
        try:
            return self.kind.convert(literal)
        except OptionValueError as error:
            if error.path:
                raise
            raise _expected(self, literal) from None

    def check(self, value: object) -> str | None:
        return None if value is None else self.kind.check(value)

    def format(self, value: Any) -> str:
        return "none" if value is None else self.kind.format(value)

    def describe(self) -> str:
        return f"{self.kind.describe()} or none"


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
OPTION_METADATA = "ctc.option"


@attrs.frozen
class OptionSpec:
    """One option of a pass: name, kind, default (``REQUIRED`` when it has none), one-line doc,
    and whether it may be given positionally (``bucket(block)`` for ``mode=block``)."""

    name: str
    kind: OptionKind
    default: Any = REQUIRED
    doc: str = ""
    positional: bool = False

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@attrs.frozen
class _OptionInfo:
    kind: OptionKind
    doc: str
    positional: bool


def option(kind: OptionKind, *, doc: str, default: Any = REQUIRED, positional: bool = False) -> Any:
    """Declares a pass option as an attrs field; values built in Python are checked by ``kind``."""

    def validate(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        problem = kind.check(value)
        if problem:
            owner = getattr(instance, "name", type(instance).__name__)
            raise ValueError(f"option '{attribute.name}' of pass '{owner}': {problem}")

    metadata = {OPTION_METADATA: _OptionInfo(kind, doc, positional)}
    if default is REQUIRED:
        return attrs.field(metadata=metadata, validator=validate)
    return attrs.field(default=default, metadata=metadata, validator=validate)


_OPTIONS_OF: dict[type, tuple[OptionSpec, ...]] = {}


def options_of(cls: type) -> tuple[OptionSpec, ...]:
    """The declared options of a pass class, in field order; positional ones must lead."""
    if cls not in _OPTIONS_OF:
        _OPTIONS_OF[cls] = _read_options(cls)
    return _OPTIONS_OF[cls]


def _read_options(cls: type) -> tuple[OptionSpec, ...]:
    specs = []
    for field in attrs.fields(cls):
        info = field.metadata.get(OPTION_METADATA)
        if not isinstance(info, _OptionInfo):
            raise TypeError(f"field '{field.name}' of {cls.__name__} is not declared with option()")
        default = REQUIRED if field.default is attrs.NOTHING else field.default
        specs.append(OptionSpec(field.name, info.kind, default, info.doc, info.positional))
    check_positional_prefix(cls.__name__, specs)
    return tuple(specs)


def check_positional_prefix(owner: str, specs: list[OptionSpec] | tuple[OptionSpec, ...]) -> None:
    flags = [spec.positional for spec in specs]
    if flags != sorted(flags, reverse=True):
        raise TypeError(f"{owner}: positional options must come before the others")


def format_invocation(
    name: str,
    specs: tuple[OptionSpec, ...],
    values: dict[str, Any],
    explicit: bool = False,
) -> str:
    """``name(positional..., key=value...)``: options equal to their default are left out unless
    ``explicit``; positional options print positionally up to the last one that is shown."""

    def shown(spec: OptionSpec) -> bool:
        return explicit or spec.required or values[spec.name] != spec.default

    positional = [spec for spec in specs if spec.positional]
    last_shown = max((i for i, spec in enumerate(positional) if shown(spec)), default=-1)
    arguments = [spec.kind.format(values[spec.name]) for spec in positional[: last_shown + 1]]
    arguments += [
        f"{spec.name}={spec.kind.format(values[spec.name])}"
        for spec in specs
        if not spec.positional and shown(spec)
    ]
    return f"{name}({', '.join(arguments)})" if arguments else name
