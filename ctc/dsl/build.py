"""Syntax tree -> ``Pipeline``: what each name means, and each option's typed value.

A name is a stage (``fwd(...)``), a registered pass, or an alias (expanded in place); anything
else is an error that names what is known. Options are matched to the fields of the pass's class
(positional ones in order, then ``key=value``), converted by their kinds, and the pass instance
built from them. Every problem is collected with its position; entries from an alias are
located at the alias in the user's text.
"""

from __future__ import annotations

import difflib
from typing import Any

from ctc.dsl.aliases import ALIASES
from ctc.dsl.syntax import Argument, Item, Position, Value, parse_syntax
from ctc.errors import Diagnostic, SourceError
from ctc.ir.core import STAGES
from ctc.passes.base import Pass
from ctc.passes.options import OptionSpec, OptionValueError, describe_literal
from ctc.passes.pipeline import Origin, PassEntry, Pipeline
from ctc.passes.registry import Registry, default_registry

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
        line, column = position.line, position.column
        if origin is not None and origin.alias is not None:
            line, column, message = origin.line, origin.column, message + origin.note()
        self.diagnostics.append(Diagnostic(line, column, message))

    def items(self, items: tuple[Item, ...], stage: str | None, origin: Origin | None) -> None:
        for item in items:
            self.item(item, stage, origin)

    def item(self, item: Item, stage: str | None, origin: Origin | None) -> None:
        if item.name in STAGES:
            self.stage(item, stage, origin)
        elif item.name in self.registry:
            self.pass_entry(item, self.registry.pass_class(item.name), stage, origin)
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
        here = origin
        if here is None:
            here = Origin(item.position.line, item.position.column, item.name, expansion)
        self.items(parse_syntax(expansion, f"<alias {item.name}>"), stage, here)

    def pass_entry(
        self, item: Item, cls: type[Pass], stage: str | None, origin: Origin | None
    ) -> None:
        errors_before = len(self.diagnostics)
        values: dict[str, Any] = {}
        attempted: set[str] = set()
        positional = [option for option in cls.option_specs() if option.positional]
        seen_keyword = rejected_positional = False
        for index, argument in enumerate(item.arguments or ()):
            if argument.key is None:
                usable = not seen_keyword and index < len(positional)
                option = positional[index] if usable else None
                where = argument.value.position
            else:
                seen_keyword = True
                option = self.keyword_option(cls, argument, origin)
                where = argument.key_position or argument.value.position
            if option is None:
                if argument.key is None:
                    self.error(where, self.positional_problem(cls, seen_keyword), origin)
                    rejected_positional = True
                continue
            if option.name in attempted:
                message = f"option '{option.name}' of pass '{cls.name}' is given twice"
                self.error(where, message, origin)
                continue
            attempted.add(option.name)
            value = self.convert(cls, option, argument.value, origin)
            if value is not _INVALID:
                values[option.name] = value
        for option in cls.option_specs():
            # A rejected positional argument was most likely meant for the missing option.
            if option.required and option.name not in attempted and not rejected_positional:
                message = (
                    f"pass '{cls.name}' needs option '{option.name}' "
                    f"({option.kind.describe()}): {option.doc}"
                )
                self.error(item.position, message, origin)
        if len(self.diagnostics) > errors_before:
            return
        here = origin if origin is not None else Origin(item.position.line, item.position.column)
        self.entries.append(PassEntry(cls(**values), stage, origin=here))

    @staticmethod
    def positional_problem(cls: type[Pass], seen_keyword: bool) -> str:
        if seen_keyword:
            return "a positional argument cannot follow key=value arguments"
        positional = [option.name for option in cls.option_specs() if option.positional]
        names = ", ".join(option.name for option in cls.option_specs())
        if not positional:
            given = f"its options: {names}; write key=value" if names else "it has no options"
            return f"pass '{cls.name}' takes no positional arguments ({given})"
        count = len(positional)
        plural = "argument" if count == 1 else "arguments"
        return f"pass '{cls.name}' takes {count} positional {plural} ({', '.join(positional)})"

    def keyword_option(
        self, cls: type[Pass], argument: Argument, origin: Origin | None
    ) -> OptionSpec | None:
        key = argument.key or ""
        option = next((o for o in cls.option_specs() if o.name == key), None)
        if option is None:
            names = [o.name for o in cls.option_specs()]
            known = f"options: {', '.join(names)}" if names else "it has no options"
            message = f"pass '{cls.name}' has no option '{key}'{suggest(key, names)} ({known})"
            self.error(argument.key_position or argument.value.position, message, origin)
        return option

    def convert(
        self, cls: type[Pass], option: OptionSpec, value: Value, origin: Origin | None
    ) -> Any:
        prefix = f"option '{option.name}' of pass '{cls.name}'"
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
