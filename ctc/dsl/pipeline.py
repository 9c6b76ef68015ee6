"""The pipeline objects: an ordered list of configured passes, each maybe scoped to a stage.

A ``Pipeline`` is data, not code: each ``PassEntry`` holds a pass name, every option's value
(defaults filled in), and its stage. Equality ignores where an entry came from, so
``parse_pipeline(str(p)) == p``. ``ctc.passes.registry`` turns an entry into a runnable pass.
"""

from __future__ import annotations

from typing import Any

import attrs

from ctc.dsl.syntax import Position
from ctc.passes.base import Pass
from ctc.passes.options import format_invocation
from ctc.passes.registry import PassSpec, Registry, default_registry


@attrs.frozen
class Origin:
    """Where an entry was written: its position, and the alias it came from, if any."""

    position: Position
    alias: str | None = None

    def note(self) -> str:
        """A suffix for messages about an entry that came from an alias."""
        if self.alias is None:
            return ""
        from ctc.dsl.aliases import ALIASES

        return f" (in the expansion of alias '{self.alias}': {ALIASES.get(self.alias, '?')})"


@attrs.frozen
class PassEntry:
    """One pass of a pipeline: name, options (all of them, in declaration order) and stage
    (None: every stage the pass supports)."""

    name: str
    options: tuple[tuple[str, Any], ...]
    stage: str | None = None
    spec: PassSpec = attrs.field(eq=False, repr=False, kw_only=True)
    origin: Origin = attrs.field(eq=False, repr=False, default=Origin(Position(1, 1)), kw_only=True)

    def option(self, name: str) -> Any:
        return dict(self.options)[name]

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages this entry runs on: its scope, or all its pass supports."""
        return (self.stage,) if self.stage is not None else self.spec.stages

    def pass_text(self, explicit: bool = False) -> str:
        """The pass alone, without its stage: ``bucket(block, prefetch=1)``."""
        return format_invocation(self.name, self.spec.options, dict(self.options), explicit)

    def format(self, explicit: bool = False) -> str:
        """The entry as a one-pass pipeline: ``fwd(dce)`` when scoped."""
        text = self.pass_text(explicit)
        return f"{self.stage}({text})" if self.stage is not None else text

    def instantiate(self, registry: Registry | None = None) -> Pass:
        """The runnable pass; raises ``CtcError`` if it is not implemented yet."""
        return (registry or default_registry()).create(self.name, dict(self.options))

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
