"""The one table of passes: pipeline name -> ``"module.path:ClassName"``.

A pass class declares everything about itself (options, stages, rules); this table only says
where it lives. Classes are imported when a pipeline names them, so checking a pipeline imports
just the passes it uses (the scheduling passes bring networkx, for example).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache

from ctc.errors import CtcError
from ctc.passes.base import Pass

PASSES: dict[str, str] = {
    "dce": "ctc.passes.dce:DeadCodeEliminationPass",
    "outline": "ctc.passes.outline:OutlinePass",
    "inline": "ctc.passes.inline:InlinePass",
    "statistics": "ctc.passes.statistics:StatisticsPass",
    "bucket": "ctc.schedule.passes.bucket:BucketPass",
    "reorder": "ctc.schedule.passes.reorder:ReorderPass",
    "tp_overlap": "ctc.schedule.passes.tp_overlap:TpOverlapPass",
    "reshard_after_forward": "ctc.passes.reshard:ReshardAfterForwardPass",
    "inductor": "ctc.passes.inductor:InductorPass",
    "cudagraph": "ctc.passes.cudagraph:CudagraphPass",
}


class Registry:
    """Looks passes up by name in a table like ``PASSES`` (tests add passes of their own)."""

    def __init__(self, passes: Mapping[str, str]) -> None:
        self.passes = dict(passes)

    def names(self) -> list[str]:
        return list(self.passes)

    def __contains__(self, name: object) -> bool:
        return name in self.passes

    def pass_class(self, name: str) -> type[Pass]:
        """The class registered as ``name``, imported on first use."""
        return _load_class(name, self.passes[name])


@cache
def _load_class(name: str, target: str) -> type[Pass]:
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Pass) and cls.name == name):
        raise CtcError(f"pass '{name}' is registered as {target}, which is not a Pass named {name}")
    return cls


REGISTRY = Registry(PASSES)


def default_registry() -> Registry:
    """The registry in use; looked up at call time so tests can substitute their own."""
    return REGISTRY
