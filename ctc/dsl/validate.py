"""Whole-pipeline checks, before anything runs.

``check_pipeline`` finds every problem at once: a pass scoped to a stage it does not support,
conflicting passes (each pass declares what it conflicts with; a pass naming itself runs at most
once per stage), and order rules (a ``must_be_last`` pass has nothing after it on its stages). Given a target device it also checks each pass can run there. Problems
point at the pass in the user's text, or at the alias it came from.
"""

from __future__ import annotations

from ctc.errors import Diagnostic, SourceError
from ctc.passes.pipeline import PassEntry, Pipeline


def _overlap(first: PassEntry, second: PassEntry) -> list[str]:
    return [stage for stage in first.stages if stage in second.stages]


def _on(stages: list[str], first: PassEntry, second: PassEntry) -> str:
    if first.stage is None and second.stage is None:
        return ""
    return f" on stage {', '.join(stages)}"


def _entry_problems(entry: PassEntry, device: str | None) -> list[str]:
    pass_ = entry.pass_
    problems = []
    if entry.stage is not None and entry.stage not in pass_.stages:
        problems.append(
            f"pass '{entry.name}' does not work on stage {entry.stage} "
            f"(it works on: {', '.join(pass_.stages)})"
        )
    if device is not None and device not in pass_.devices:
        hint = (
            "; bind a cuda target (--device cuda, on a machine with a GPU) or leave it out"
            if "cuda" in pass_.devices
            else ""
        )
        problems.append(
            f"pass '{entry.name}' needs a {' or '.join(pass_.devices)} target, "
            f"but the pipeline is bound to {device}{hint}"
        )
    return problems


def _pair_problems(first: PassEntry, second: PassEntry) -> list[str]:
    """Problems of ``second`` given that ``first`` runs before it."""
    stages = _overlap(first, second)
    if not stages:
        return []
    problems = []
    column = first.origin.column
    if first.pass_.must_be_last:
        problems.append(
            f"'{second}' comes after '{first}' (column {column}), "
            f"which must be the last pass{_on(stages, first, second)}"
        )
    declarers = [
        entry.name
        for entry, other in ((first, second), (second, first))
        if other.name in entry.pass_.conflicts_with
    ]
    if declarers:
        if first.name == second.name:
            reason = f"pass '{first.name}' may run only once per stage"
        else:
            reason = f"pass '{declarers[0]}' declares it conflicts with the other"
        problems.append(
            f"'{second}' conflicts with '{first}' (column {column}){_on(stages, first, second)}: "
            f"{reason}"
        )
    return problems


def pipeline_problems(pipeline: Pipeline, device: str | None = None) -> list[Diagnostic]:
    """Every problem of the pipeline (bound to ``device`` when given), in text order."""
    diagnostics: list[Diagnostic] = []
    for index, entry in enumerate(pipeline.entries):
        problems = _entry_problems(entry, device)
        for earlier in pipeline.entries[:index]:
            problems += _pair_problems(earlier, entry)
        origin = entry.origin
        diagnostics += [
            Diagnostic(origin.line, origin.column, problem + origin.note()) for problem in problems
        ]
    unique = list(dict.fromkeys(diagnostics))
    return sorted(unique, key=lambda d: (d.line, d.column))


def check_pipeline(pipeline: Pipeline, device: str | None = None) -> Pipeline:
    """Returns the pipeline unchanged when it has no problems; raises ``SourceError`` otherwise."""
    diagnostics = pipeline_problems(pipeline, device)
    if diagnostics:
        raise SourceError(pipeline.filename, pipeline.text, diagnostics)
    return pipeline
