"""Syntax tree -> ``Pipeline``: what each name means, and each option's typed value.

A name is a stage (``fwd(...)``), a registered pass, or an alias (expanded in place); anything
else is an error that names what is known. Options are matched to the pass's declared options
(positional ones in order, then ``key=value``) and converted by their kinds. Every problem is
collected with its position; entries from an alias are located at the alias in the user's text.
"""

from __future__ import annotations

import difflib
from typing import Any

from ctc.dsl.aliases import ALIASES
from ctc.dsl.pipeline import Origin, PassEntry, Pipeline
from ctc.dsl.syntax import Argument, Item, Position, Value, parse_syntax
from ctc.errors import Diagnostic, SourceError
from ctc.passes.base import STAGES
from ctc.passes.options import OptionSpec, OptionValueError, describe_literal
from ctc.passes.registry import PassSpec, Registry, default_registry

_INVALID = object()


def suggest(name: str, known: list[str]) -> str:
    """``; did you mean 'x'?`` for a close match, else nothing."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class _Builder:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.entries: list[PassEntry] = []
        self.diagnostics: list[Diagnostic] = []

    def error(self, position: Position, message: str, origin: Origin | None) -> None:
        if origin is not None and origin.alias is not None:
            position, message = origin.position, message + origin.note()
        self.diagnostics.append(Diagnostic(position.line, position.column, message))

    def items(self, items: tuple[Item, ...], stage: str | None, origin: Origin | None) -> None:
        for item in items:
            self.item(item, stage, origin)

    def item(self, item: Item, stage: str | None, origin: Origin | None) -> None:
        if item.name in STAGES:
            self.stage(item, stage, origin)
        elif item.name in self.registry:
            self.pass_entry(item, self.registry.spec(item.name), stage, origin)
        elif item.name in ALIASES:
            self.alias(item, stage, origin)
        else:
            self.error(item.position, self.unknown_pass_message(item.name), origin)

    def unknown_pass_message(self, name: str) -> str:
        passes = self.registry.names()
        aliases = [alias for alias in ALIASES if alias not in self.registry]
        return (
            f"unknown pass '{name}'{suggest(name, passes + aliases + list(STAGES))} "
            f"(passes: {', '.join(passes)}; aliases: {', '.join(aliases)}; "
            f"stages: {', '.join(STAGES)})"
        )

    def stage(self, item: Item, outer: str | None, origin: Origin | None) -> None:
        name = item.name
        if outer is not None:
            message = f"stages do not nest: {name}(...) inside {outer}(...)"
            self.error(item.position, message, origin)
        elif item.arguments is None:
            message = f"'{name}' is a stage: write {name}(PASSES) to run passes on @{name}"
            self.error(item.position, message, origin)
        elif not item.arguments:
            self.error(item.position, f"stage {name}(...) needs at least one pass", origin)
        else:
            for argument in item.arguments:
                self.stage_argument(name, argument, origin)

    def stage_argument(self, stage: str, argument: Argument, origin: Origin | None) -> None:
        if argument.key is not None and argument.key_position is not None:
            message = f"a stage takes passes, not options: '{argument.key}=' in {stage}(...)"
            self.error(argument.key_position, message, origin)
        elif argument.value.item is None:
            got = describe_literal(argument.value.literal)
            message = f"expected a pass inside {stage}(...), got {got}"
            self.error(argument.value.position, message, origin)
        else:
            self.item(argument.value.item, stage, origin)

    def alias(self, item: Item, stage: str | None, origin: Origin | None) -> None:
        expansion = ALIASES[item.name]
        if item.arguments is not None:
            message = (
                f"alias '{item.name}' takes no arguments; it stands for {expansion}: "
                "write that instead to choose options"
            )
            self.error(item.position, message, origin)
            return
        here = origin if origin is not None else Origin(item.position, item.name)
        self.items(parse_syntax(expansion, f"<alias {item.name}>"), stage, here)

    def pass_entry(
        self, item: Item, spec: PassSpec, stage: str | None, origin: Origin | None
    ) -> None:
        errors_before = len(self.diagnostics)
        values: dict[str, Any] = {}
        attempted: set[str] = set()
        positional = [option for option in spec.options if option.positional]
        seen_keyword = rejected_positional = False
        for index, argument in enumerate(item.arguments or ()):
            if argument.key is None:
                usable = not seen_keyword and index < len(positional)
                option = positional[index] if usable else None
                where = argument.value.position
            else:
                seen_keyword = True
                option = self.keyword_option(spec, argument, origin)
                where = argument.key_position or argument.value.position
            if option is None:
                if argument.key is None:
                    self.error(where, self.positional_problem(spec, seen_keyword), origin)
                    rejected_positional = True
                continue
            if option.name in attempted:
                message = f"option '{option.name}' of pass '{spec.name}' is given twice"
                self.error(where, message, origin)
                continue
            attempted.add(option.name)
            value = self.convert(spec, option, argument.value, origin)
            if value is not _INVALID:
                values[option.name] = value
        for option in spec.options:
            # A rejected positional argument was most likely meant for the missing option.
            if option.required and option.name not in attempted and not rejected_positional:
                message = (
                    f"pass '{spec.name}' needs option '{option.name}' "
                    f"({option.kind.describe()}): {option.doc}"
                )
                self.error(item.position, message, origin)
        if len(self.diagnostics) > errors_before:
            return
        options = tuple((o.name, values.get(o.name, o.default)) for o in spec.options)
        here = origin if origin is not None else Origin(item.position)
        self.entries.append(PassEntry(spec.name, options, stage, spec=spec, origin=here))

    @staticmethod
    def positional_problem(spec: PassSpec, seen_keyword: bool) -> str:
        if seen_keyword:
            return "a positional argument cannot follow key=value arguments"
        positional = [option.name for option in spec.options if option.positional]
        names = ", ".join(option.name for option in spec.options)
        if not positional:
            given = f"its options: {names}; write key=value" if names else "it has no options"
            return f"pass '{spec.name}' takes no positional arguments ({given})"
        count = len(positional)
        plural = "argument" if count == 1 else "arguments"
        return f"pass '{spec.name}' takes {count} positional {plural} ({', '.join(positional)})"

    def keyword_option(
        self, spec: PassSpec, argument: Argument, origin: Origin | None
    ) -> OptionSpec | None:
        key = argument.key or ""
        option = spec.option(key)
        if option is None:
            names = [o.name for o in spec.options]
            known = f"options: {', '.join(names)}" if names else "it has no options"
            message = f"pass '{spec.name}' has no option '{key}'{suggest(key, names)} ({known})"
            self.error(argument.key_position or argument.value.position, message, origin)
        return option

    def convert(
        self, spec: PassSpec, option: OptionSpec, value: Value, origin: Origin | None
    ) -> Any:
        prefix = f"option '{option.name}' of pass '{spec.name}'"
        if value.literal is None:
            name = value.item.name if value.item is not None else "?"
            message = f"{prefix} takes {option.kind.describe()}, not a pass call '{name}(...)'"
            self.error(value.position, message, origin)
            return _INVALID
        try:
            return option.kind.convert(value.literal)
        except OptionValueError as error:
            self.error(value.at_path(error.path).position, f"{prefix}: {error.message}", origin)
            return _INVALID


def build_pipeline(
    items: tuple[Item, ...],
    text: str,
    filename: str = "<pipeline>",
    registry: Registry | None = None,
) -> Pipeline:
    """The pipeline the items spell; raises ``SourceError`` listing every problem found."""
    builder = _Builder(registry or default_registry())
    builder.items(items, None, None)
    if builder.diagnostics:
        raise SourceError(filename, text, sorted(builder.diagnostics, key=_order))
    return Pipeline(tuple(builder.entries), text, filename)


def _order(diagnostic: Diagnostic) -> tuple[int, int]:
    return diagnostic.line, diagnostic.column
