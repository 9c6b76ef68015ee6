"""Running one pipeline across the stages of a training step, as ``ctc.compile`` does.

A step is compiled in stages: the pipeline's joint part runs on the captured ``@joint``; torch's
partitioner splits it; the ``@fwd`` and ``@bwd`` parts run on each half as it is compiled.
``plan_stages`` decides where each entry runs: a scoped entry (``fwd(dce)``) on its stage; an
unscoped one on ``@joint`` when its pass works there, else on each of ``@fwd`` and ``@bwd`` its
pass supports. An entry none of whose stages run in the command is refused, located, before any
work starts.

``StagedRun`` runs one stage's part with a ``PassManager`` (verification, timing, the
``--print-ir-after*`` dumps, reproducers), writes ``{stage}.before.ctc`` and ``{stage}.ctc``
into the dump folder, and remembers what each pass changed, so that a pass that found nothing to
do on any stage gets one warning (``nothing_done``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

from ctc.errors import Diagnostic, SourceError
from ctc.ir.core import STAGES, Module
from ctc.ir.printer import print_module
from ctc.passes.manager import PassManager, RunOptions
from ctc.passes.pipeline import PassEntry, Pipeline

# What is written to the dump folder: (stage, when) -> file name.
DUMP_FILES = {
    ("joint", "before"): "joint.captured.ctc",
    ("joint", "after"): "joint.ctc",
    ("fwd", "before"): "fwd.lifted.ctc",
    ("fwd", "after"): "fwd.ctc",
    ("bwd", "before"): "bwd.lifted.ctc",
    ("bwd", "after"): "bwd.ctc",
}

# Writes a text file; the command line passes its checked writer.
Writer = Callable[[Path, str], None]


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def entry_stages(entry: PassEntry, available: Sequence[str]) -> tuple[str, ...]:
    """The stages an entry runs on when the stages in ``available`` run, in stage order."""
    if entry.stage is not None:
        return (entry.stage,) if entry.stage in available else ()
    supported = [stage for stage in STAGES if stage in entry.pass_.stages and stage in available]
    if "joint" in supported:
        return ("joint",)
    return tuple(supported)


def plan_stages(
    pipeline: Pipeline, available: Sequence[str] = STAGES, running: str = "this command runs"
) -> dict[str, Pipeline]:
    """The part of ``pipeline`` each stage runs; an entry that would run nowhere is a located
    error ("pass 'X' works on @fwd, and {running} @joint")."""
    parts: dict[str, list[PassEntry]] = {stage: [] for stage in STAGES if stage in available}
    problems = []
    for entry in pipeline.entries:
        stages = entry_stages(entry, available)
        if not stages:
            wanted = ", ".join("@" + s for s in entry.stages)
            have = ", ".join("@" + s for s in available) or "no stage"
            problems.append(
                Diagnostic(
                    entry.origin.line,
                    entry.origin.column,
                    f"pass '{entry}' works on {wanted}, and {running} {have}" + entry.origin.note(),
                )
            )
        for stage in stages:
            parts[stage].append(entry)
    if problems:
        raise SourceError(pipeline.filename, pipeline.text, problems)
    return {
        stage: Pipeline(tuple(entries), pipeline.text, pipeline.filename)
        for stage, entries in parts.items()
    }


@attrs.define
class StagedRun:
    """One pipeline over the stages of a step (see the module docstring)."""

    pipeline: Pipeline
    options: RunOptions = attrs.field(factory=RunOptions)
    dump_dir: Path | None = None
    available: tuple[str, ...] = STAGES
    write: Writer = _write_text
    plan: dict[str, Pipeline] = attrs.field(init=False)
    # Entry text -> whether it changed the IR on some stage it ran on.
    changed: dict[str, bool] = attrs.field(init=False, factory=dict)
    timings: list[tuple[str, float]] = attrs.field(init=False, factory=list)

    def __attrs_post_init__(self) -> None:
        self.plan = plan_stages(self.pipeline, self.available)

    def run(self, module: Module, stage: str) -> Module:
        """Runs the stage's passes on ``module`` (which holds ``@{stage}``), dumping it before
        and after."""
        self._dump(stage, "before", module)
        manager = PassManager(self.plan.get(stage, Pipeline()), self.options)
        result = manager.run(module)
        for record in manager.records:
            self.changed[record.text] = self.changed.get(record.text, False) or record.changed
            self.timings.append((f"{stage}: {record.text}", record.seconds))
        self._dump(stage, "after", result)
        return result

    def _dump(self, stage: str, when: str, module: Module) -> None:
        if self.dump_dir is not None:
            self.write(self.dump_dir / DUMP_FILES[(stage, when)], print_module(module) + "\n")

    def nothing_done(self) -> list[str]:
        """One line per transforming pass that changed nothing on any stage it ran on."""
        lines = []
        for stage_pipeline in self.plan.values():
            for entry in stage_pipeline.entries:
                text = str(entry)
                if entry.pass_.analysis or self.changed.get(text, True):
                    continue
                stages = ", ".join("@" + s for s in entry_stages(entry, self.available))
                line = f"pass '{text}' found nothing to do on {stages}"
                if line not in lines:
                    lines.append(line)
        return lines
