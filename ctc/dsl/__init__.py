"""The pass-pipeline language: ``"bucket(block, prefetch=1),inductor(regions),cudagraph"``.

Torch-free. ``parse_pipeline`` reads a string (grammar in ``grammar.lark``), resolves names to
registered passes, stages and aliases, converts options by the kinds the pass classes declare,
builds the pass instances, and checks the whole pipeline; every error is a ``SourceError`` with
a caret under the column. The result is a ``ctc.passes.pipeline.Pipeline``: ``str`` of it is its
canonical text, and parsing that gives an equal pipeline. ``ctc.dsl`` depends on ``ctc.passes``
(the registry, option kinds and pipeline objects), never the other way round.
"""

from __future__ import annotations

from ctc.dsl.aliases import ALIASES
from ctc.dsl.build import build_pipeline
from ctc.dsl.syntax import parse_syntax
from ctc.dsl.target import detect_device
from ctc.dsl.validate import check_pipeline, pipeline_problems
from ctc.passes.pipeline import Origin, PassEntry, Pipeline
from ctc.passes.registry import Registry


def parse_pipeline(
    text: str,
    filename: str = "<pipeline>",
    *,
    check: bool = True,
    device: str | None = None,
    registry: Registry | None = None,
) -> Pipeline:
    """The pipeline ``text`` spells. With ``check`` (the default), the whole pipeline is
    validated, and bound to ``device`` when one is given (``cpu`` or ``cuda``)."""
    pipeline = build_pipeline(parse_syntax(text, filename), text, filename, registry)
    if check:
        check_pipeline(pipeline, device)
    return pipeline


__all__ = [
    "ALIASES",
    "Origin",
    "PassEntry",
    "Pipeline",
    "check_pipeline",
    "detect_device",
    "parse_pipeline",
    "pipeline_problems",
]
