"""The statistics pass: a report of what a module holds, written beside the pipeline's output."""

from __future__ import annotations

import sys
from collections import Counter
from json import dumps
from typing import Any, ClassVar

import attrs

from ctc.errors import CtcError
from ctc.ir.core import Func, Module, walk_ops
from ctc.ir.ops import RegionOp
from ctc.ir.stats import function_stats
from ctc.passes.base import Pass
from ctc.passes.options import BoolOption, OptionalOption, StrOption, option


def statistics(module: Module) -> dict[str, Any]:
    """Per function: op counts by name, regions by kind, collective counts and bytes by group."""
    functions = []
    for func in module.functions:
        stats = function_stats(func)
        stats["regions_by_kind"] = _regions_by_kind(func)
        functions.append(stats)
    return {"mesh": [list(pair) for pair in module.mesh], "functions": functions}


def _regions_by_kind(func: Func) -> dict[str, int]:
    kinds = Counter(op.kind for op in walk_ops(func.ops) if isinstance(op, RegionOp))
    return dict(sorted(kinds.items()))


def format_statistics(report: dict[str, Any]) -> str:
    lines = []
    for func in report["functions"]:
        lines.append(
            f"@{func['name']}: {func['ops']} ops, {func['regions']} regions, "
            f"{func['collectives']} collectives"
        )
        if func["regions_by_kind"]:
            kinds = ", ".join(f"{k} {n}" for k, n in func["regions_by_kind"].items())
            lines.append(f"  regions by kind: {kinds}")
        lines.append("  ops by name:")
        width = max((len(name) for name in func["ops_by_name"]), default=0)
        lines += [f"    {name:<{width}}  {n}" for name, n in func["ops_by_name"].items()]
        if func["collectives_by_group"]:
            lines.append("  collectives by group (bytes per rank):")
            groups = func["collectives_by_group"]
            width = max(len(key) for key in groups)
            lines += [
                f"    {key:<{width}}  {entry['count']} ops  {entry['bytes']} bytes"
                for key, entry in groups.items()
            ]
    return "\n".join(lines) + "\n"


@attrs.frozen
class StatisticsPass(Pass):
    """Reports op counts, regions by kind, and collective counts and bytes by group.

    Guarantees: the module is returned unchanged; the report goes to stderr, or to ``file``
    (overwritten), as text or as JSON.
    """

    name: ClassVar[str] = "statistics"
    analysis: ClassVar[bool] = True

    json: bool = option(BoolOption(), default=False, doc="write JSON instead of text")
    file: str | None = option(
        OptionalOption(StrOption()), default=None, doc="write the report here; none: stderr"
    )

    def run(self, module: Module) -> Module:
        report = statistics(module)
        text = dumps(report, sort_keys=True) + "\n" if self.json else format_statistics(report)
        if self.file is None:
            sys.stderr.write(text)
            return module
        try:
            with open(self.file, "w", encoding="utf-8") as stream:
                stream.write(text)
        except OSError as error:
            raise CtcError(f"statistics: cannot write {self.file}: {error.strerror}") from None
        return module
