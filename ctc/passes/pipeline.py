"""A pipeline: configured passes in order, each maybe scoped to a stage.

A ``Pipeline`` is data: each ``PassEntry`` is a pass instance (its fields hold every option's
value, defaults filled in) and the stage it runs on. ``ctc.dsl`` builds pipelines from text and
``ctc.passes.manager`` runs them. Equality ignores where an entry was written, so
``parse_pipeline(str(p)) == p``.
"""

from __future__ import annotations

from typing import Any

import attrs

from ctc.passes.base import Pass


@attrs.frozen
class Origin:
    """Where an entry was written (line and column from 1), and the alias it came from."""

    line: int = 1
    column: int = 1
    alias: str | None = None
    expansion: str = ""

    def note(self) -> str:
        """A suffix for messages about an entry that came from an alias."""
        if self.alias is None:
            return ""
        return f" (in the expansion of alias '{self.alias}': {self.expansion})"


@attrs.frozen
class PassEntry:
    """One pass of a pipeline and its stage (None: every stage the pass supports)."""

    pass_: Pass
    stage: str | None = None
    origin: Origin = attrs.field(eq=False, repr=False, factory=Origin, kw_only=True)

    @property
    def name(self) -> str:
        return self.pass_.name

    def option(self, name: str) -> Any:
        return getattr(self.pass_, name)

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages this entry runs on: its scope, or all its pass supports."""
        return (self.stage,) if self.stage is not None else self.pass_.stages

    def pass_text(self, explicit: bool = False) -> str:
        """The pass alone, without its stage: ``bucket(block, prefetch=2)``."""
        return self.pass_.pipeline_text(explicit)

    def format(self, explicit: bool = False) -> str:
        """The entry as a one-pass pipeline: ``fwd(dce)`` when scoped."""
        text = self.pass_text(explicit)
        return f"{self.stage}({text})" if self.stage is not None else text

    def __str__(self) -> str:
        return self.format()


@attrs.frozen
class Pipeline:
    """Passes in order. ``text`` and ``filename`` (the source, for located errors) do not take
    part in equality."""

    entries: tuple[PassEntry, ...] = ()
    text: str = attrs.field(default="", eq=False, repr=False)
    filename: str = attrs.field(default="<pipeline>", eq=False, repr=False)

    def format(self, explicit: bool = False) -> str:
        """The canonical text: consecutive entries of one stage share one ``stage(...)``."""
        parts: list[str] = []
        index = 0
        while index < len(self.entries):
            stage = self.entries[index].stage
            end = index
            while end < len(self.entries) and self.entries[end].stage == stage:
                end += 1
            texts = [entry.pass_text(explicit) for entry in self.entries[index:end]]
            if stage is None:
                parts += texts
            else:
                parts.append(f"{stage}({','.join(texts)})")
            index = end
        return ",".join(parts)

    def __str__(self) -> str:
        return self.format()

    def __len__(self) -> int:
        return len(self.entries)
