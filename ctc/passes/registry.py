"""The one table of passes: pipeline name -> ``"module.path:ClassName"``, imported lazily.

Validating a pipeline needs each pass's options and declarations, not its code, so classes are
imported only when needed: a torch-free pass is imported to read its fields (its fields are its
options), a pass that needs torch is described by its declared ``PassSpec`` below and imported only
when a pipeline runs. Passes other engineers are still writing are declared the same way; while
their module or class is missing they are refused with "not implemented yet", never run as a
no-op. A test checks every declared spec against the class once it lands.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from functools import cache
from pathlib import Path
from typing import Any

import attrs

from ctc.errors import CtcError
from ctc.passes.base import DEVICES, STAGES, Pass
from ctc.passes.options import (
    AnyOf,
    BoolOption,
    ChoiceOption,
    FloatOption,
    IntOption,
    OptionalOption,
    OptionSpec,
    Size,
    SizeOption,
    StrOption,
    options_of,
)

PASSES: dict[str, str] = {
    "dce": "ctc.passes.dce:DeadCodeEliminationPass",
    "outline": "ctc.passes.outline:OutlinePass",
    "inline": "ctc.passes.inline:InlinePass",
    "statistics": "ctc.passes.statistics:StatisticsPass",
    "bucket": "ctc.schedule.passes.bucket:BucketPass",
    "reorder": "ctc.schedule.passes.reorder:ReorderPass",
    "inductor": "ctc.backend_inductor:InductorPass",
    "cudagraph": "ctc.backend_inductor:CudagraphPass",
}


@attrs.frozen
class PassSpec:
    """Everything validation needs to know about a pass, with or without its class."""

    name: str
    doc: str
    options: tuple[OptionSpec, ...] = ()
    stages: tuple[str, ...] = STAGES
    conflicts_with: tuple[str, ...] = ()
    must_be_last: bool = False
    devices: tuple[str, ...] = DEVICES
    needs_torch: bool = False
    implemented: bool = True

    def option(self, name: str) -> OptionSpec | None:
        return next((spec for spec in self.options if spec.name == name), None)


def spec_of(cls: type[Pass]) -> PassSpec:
    """The spec a pass class declares: its fields and class-level declarations."""
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]
    return PassSpec(
        name=cls.name,
        doc=" ".join(doc.split()),
        options=options_of(cls),
        stages=cls.stages,
        conflicts_with=cls.conflicts_with,
        must_be_last=cls.must_be_last,
        devices=cls.devices,
        needs_torch=cls.needs_torch,
        implemented=cls.implemented,
    )


_MEMORY_BUDGET = OptionSpec(
    "memory_budget",
    OptionalOption(AnyOf((SizeOption(minimum=1), FloatOption(minimum=1.0)))),
    None,
    "peak memory allowed: a size, or a ratio >= 1 over the input's peak; none: no limit",
)

# Passes described ahead of (or apart from) their classes. A landed class must match its spec.
DECLARED: dict[str, PassSpec] = {
    "bucket": PassSpec(
        name="bucket",
        doc="Merges FSDP all-gathers and reduce-scatters into buckets and prefetches them.",
        options=(
            OptionSpec(
                "mode",
                ChoiceOption(("block", "auto")),
                doc="block: one bucket per transformer block; auto: buckets from the cost model",
                positional=True,
            ),
            OptionSpec("prefetch", IntOption(minimum=0), 1, "buckets to all-gather ahead of use"),
            OptionSpec(
                "cap",
                OptionalOption(SizeOption(minimum=1)),
                Size(500 * 10**6, "MB"),
                "largest bucket; none: no cap",
            ),
            _MEMORY_BUDGET,
            OptionSpec(
                "split_streams", BoolOption(), True, "all-gathers on a communicator of their own"
            ),
            OptionSpec("device", StrOption(), "h100", "cost model profile for auto"),
        ),
        conflicts_with=("bucket",),
    ),
    "reorder": PassSpec(
        name="reorder",
        doc="Reorders collectives and compute for overlap, by the cost model.",
        options=(_MEMORY_BUDGET,),
    ),
    "inductor": PassSpec(
        name="inductor",
        doc="Compiles regions (or the whole graph) with inductor.",
        options=(
            OptionSpec(
                "scope",
                ChoiceOption(("regions", "all")),
                doc="regions: annotated inductor regions only; all: the whole graph",
                positional=True,
            ),
        ),
        stages=("fwd", "bwd"),
    ),
    "cudagraph": PassSpec(
        name="cudagraph",
        doc="Wraps the graph in a CUDA graph.",
        stages=("fwd", "bwd"),
        must_be_last=True,
        devices=("cuda",),
    ),
}


def _split(target: str) -> tuple[str, str]:
    module_name, _, class_name = target.partition(":")
    return module_name, class_name


def _module_origin(module_name: str) -> str | None:
    """The file of a module, found without importing it (its parent packages are imported)."""
    try:
        found = importlib.util.find_spec(module_name)
    except ModuleNotFoundError:
        return None
    return found.origin if found is not None else None


def _defines_class(path: str, class_name: str) -> bool:
    """Whether a source file defines ``class_name`` at top level: read, never imported."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return False
    return any(isinstance(n, ast.ClassDef) and n.name == class_name for n in tree.body)


class Registry:
    """Looks passes up by name; ``PASSES`` and ``DECLARED`` are the default tables."""

    def __init__(self, passes: dict[str, str], declared: dict[str, PassSpec]) -> None:
        self.passes = passes
        self.declared = declared
        self._specs: dict[str, PassSpec] = {}

    def names(self) -> list[str]:
        return list(self.passes)

    def __contains__(self, name: str) -> bool:
        return name in self.passes

    def spec(self, name: str) -> PassSpec:
        """The spec of a registered pass; ``implemented`` is False while its code is missing."""
        if name not in self._specs:
            self._specs[name] = self._find_spec(name)
        return self._specs[name]

    def _find_spec(self, name: str) -> PassSpec:
        module_name, class_name = _split(self.passes[name])
        declared = self.declared.get(name)
        if declared is not None:
            origin = _module_origin(module_name)
            if origin is None or not _defines_class(origin, class_name):
                return attrs.evolve(declared, implemented=False)
            if declared.needs_torch:
                return declared
        cls = self.load(name)
        if cls is None:
            if declared is None:
                raise CtcError(f"pass '{name}' is registered as {self.passes[name]}, not found")
            return attrs.evolve(declared, implemented=False)
        return spec_of(cls)

    def load(self, name: str) -> type[Pass] | None:
        """The class of a pass (importing its module), or None when it has not landed."""
        return _load_class(self.passes[name])

    def create(self, name: str, options: dict[str, Any]) -> Pass:
        """An instance of the pass with the given options; refuses unimplemented passes."""
        cls = self.load(name)
        if cls is None or not cls.implemented:
            raise CtcError(f"pass '{name}' is not implemented yet ({self.passes[name]})")
        try:
            return cls(**options)
        except (TypeError, ValueError) as error:
            raise CtcError(
                f"pass '{name}': its class {self.passes[name]} does not accept the options "
                f"of its declared spec: {error}"
            ) from None


@cache
def _load_class(target: str) -> type[Pass] | None:
    module_name, class_name = _split(target)
    if _module_origin(module_name) is None:
        return None
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        # A pass module that fails to import is a bug of that module; say which, briefly.
        raise CtcError(f"cannot import {target}: {type(error).__name__}: {error}") from None
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Pass)):
        return None
    return cls


REGISTRY = Registry(PASSES, DECLARED)


def default_registry() -> Registry:
    """The registry in use; looked up at call time so tests can substitute their own."""
    return REGISTRY
