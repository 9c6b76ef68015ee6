"""Stand-ins for the passes other engineers are writing, built from their declared specs.

``STUB_REGISTRY`` is the real table with every declared pass replaced by an identity pass with
exactly the declared options and declarations, so pipeline checks and the pass manager can be
tested as if those passes had landed. ``CrashPass`` and ``BreakPass`` fail on purpose.
"""

from __future__ import annotations

from typing import Any, ClassVar

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
from ctc.passes.registry import DECLARED, PASSES, PassSpec, Registry


@attrs.frozen
class StubPass(Pass):
    """Returns the module unchanged."""

    def run(self, module: Module) -> Module:
        return module


def _stub(spec: PassSpec) -> type[Pass]:
    fields: dict[str, Any] = {
        o.name: option(o.kind, doc=o.doc, default=o.default, positional=o.positional)
        for o in spec.options
    }
    cls: Any = attrs.make_class(f"{spec.name.title()}Stub", fields, bases=(StubPass,), frozen=True)
    cls.__doc__ = spec.doc
    cls.__module__ = __name__
    cls.name = spec.name
    cls.stages = spec.stages
    cls.conflicts_with = spec.conflicts_with
    cls.must_be_last = spec.must_be_last
    cls.devices = spec.devices
    cls.needs_torch = False  # the stand-in itself needs nothing
    return cls  # type: ignore[no-any-return]


STUBS = {name: _stub(spec) for name, spec in DECLARED.items()}
globals().update({cls.__name__: cls for cls in STUBS.values()})


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
class UnfinishedPass(Pass):
    """Registered with ``implemented = False``."""

    name: ClassVar[str] = "unfinished"
    implemented: ClassVar[bool] = False


@attrs.frozen
class ExamplePass(StubPass):
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
class LeftPass(StubPass):
    """Declares a conflict with ``right``; ``right`` declares nothing."""

    name: ClassVar[str] = "left"
    conflicts_with: ClassVar[tuple[str, ...]] = ("right",)


@attrs.frozen
class RightPass(StubPass):
    name: ClassVar[str] = "right"
    stages: ClassVar[tuple[str, ...]] = ("fwd", "bwd")


TEST_PASSES = {
    **PASSES,
    **{name: f"{__name__}:{cls.__name__}" for name, cls in STUBS.items()},
    "crash": f"{__name__}:CrashPass",
    "break": f"{__name__}:BreakPass",
    "unfinished": f"{__name__}:UnfinishedPass",
    "seen": f"{__name__}:SeenPass",
    "missing": "tests.no_such_module:MissingPass",
    "example": f"{__name__}:ExamplePass",
    "left": f"{__name__}:LeftPass",
    "right": f"{__name__}:RightPass",
}
STUB_DECLARED = {
    "missing": PassSpec(name="missing", doc="Declared, with no module behind it."),
}
STUB_REGISTRY = Registry(TEST_PASSES, STUB_DECLARED)
