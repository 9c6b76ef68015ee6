"""Passes that exist for tests, and ``TEST_REGISTRY``: the real table plus them.

``CrashPass`` and ``BreakPass`` fail on purpose; ``SeenPass`` records what it is given;
``ExamplePass`` has one option of every kind, so tests of the pipeline language do not change
when real passes change their options; ``LeftPass`` and ``RightPass`` test declared conflicts.
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from ctc.ir.core import Module
from ctc.passes.base import Pass
from ctc.passes.options import (
    AnyOf,
    BoolOption,
    ChoiceOption,
    FloatOption,
    IntOption,
    ListOption,
    OptionalOption,
    Size,
    SizeOption,
    StrOption,
    option,
)
from ctc.passes.registry import PASSES, Registry


@attrs.frozen
class CrashPass(Pass):
    """Raises, to test failure reports and reproducers."""

    name: ClassVar[str] = "crash"

    after: int = option(IntOption(minimum=0), default=0, doc="unused; shows options in replays")

    def run(self, module: Module) -> Module:
        raise RuntimeError("boom")


@attrs.frozen
class BreakPass(Pass):
    """Returns invalid IR: every function loses its last op (its ctc.return)."""

    name: ClassVar[str] = "break"

    def run(self, module: Module) -> Module:
        functions = tuple(f.with_ops(f.ops[:-1]) for f in module.functions)
        return attrs.evolve(module, functions=functions)


SEEN: list[tuple[str, ...]] = []


@attrs.frozen
class SeenPass(Pass):
    """Records the functions it is given in ``SEEN``; works on the fwd and bwd stages."""

    name: ClassVar[str] = "seen"
    stages: ClassVar[tuple[str, ...]] = ("fwd", "bwd")

    def run(self, module: Module) -> Module:
        SEEN.append(tuple(func.name for func in module.functions))
        return module


@attrs.frozen
class IdentityPass(Pass):
    """Returns the module unchanged."""

    def run(self, module: Module) -> Module:
        return module


@attrs.frozen
class ExamplePass(IdentityPass):
    """One option of every kind, for tests of the language that must not change when real
    passes change their options. It may run once per stage."""

    name: ClassVar[str] = "example"
    conflicts_with: ClassVar[tuple[str, ...]] = ("example",)

    mode: str = option(ChoiceOption(("block", "auto")), doc="a choice", positional=True)
    prefetch: int = option(IntOption(minimum=0), default=0, doc="an int >= 0")
    # option() returns an attrs field, not a shared mutable default.
    cap: Size | None = option(OptionalOption(SizeOption(minimum=1)), default=None, doc="a size")  # noqa: RUF009
    memory_budget: Size | float | None = option(  # noqa: RUF009
        OptionalOption(
            AnyOf((SizeOption(minimum=1), FloatOption(0.0, 1.0, exclusive_minimum=True)))
        ),
        default=None,
        doc="a size or a ratio",
    )
    tags: tuple[str, ...] = option(ListOption(StrOption()), default=(), doc="a list of strings")
    flag: bool = option(BoolOption(), default=False, doc="a bool")


@attrs.frozen
class LeftPass(IdentityPass):
    """Declares a conflict with ``right``; ``right`` declares nothing."""

    name: ClassVar[str] = "left"
    conflicts_with: ClassVar[tuple[str, ...]] = ("right",)


@attrs.frozen
class RightPass(IdentityPass):
    name: ClassVar[str] = "right"
    stages: ClassVar[tuple[str, ...]] = ("fwd", "bwd")


TEST_REGISTRY = Registry(
    {
        **PASSES,
        "crash": f"{__name__}:CrashPass",
        "break": f"{__name__}:BreakPass",
        "seen": f"{__name__}:SeenPass",
        "example": f"{__name__}:ExamplePass",
        "left": f"{__name__}:LeftPass",
        "right": f"{__name__}:RightPass",
    }
)
