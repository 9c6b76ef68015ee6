"""User-facing errors. The command line prints these without a traceback and exits non-zero.

A ``SourceError`` points into a text (an IR file, a pipeline string): ``file:line:col``, the
offending line, and a caret under the column.
"""

from __future__ import annotations

import attrs


class CtcError(Exception):
    """An error caused by the user's input or environment, with a message meant for them."""


@attrs.frozen
class Diagnostic:
    """One located message; line and column count from 1."""

    line: int
    column: int
    message: str


def render_diagnostic(filename: str, text: str, diagnostic: Diagnostic) -> str:
    lines = text.splitlines()
    header = f"{filename}:{diagnostic.line}:{diagnostic.column}: error: {diagnostic.message}"
    if not 1 <= diagnostic.line <= len(lines):
        return header
    source_line = lines[diagnostic.line - 1].expandtabs(1)
    caret = " " * (diagnostic.column - 1) + "^"
    return f"{header}\n  {source_line}\n  {caret}"


class SourceError(CtcError):
    """One or more located errors in a text; ``str`` renders each with its line and caret."""

    def __init__(self, filename: str, text: str, diagnostics: list[Diagnostic]) -> None:
        self.filename = filename
        self.text = text
        self.diagnostics = diagnostics
        super().__init__("\n".join(render_diagnostic(filename, text, d) for d in diagnostics))

    @classmethod
    def at(cls, filename: str, text: str, line: int, column: int, message: str) -> SourceError:
        return cls(filename, text, [Diagnostic(line, column, message)])


class CtcWarning(UserWarning):
    """Something ctc did differently from what the pipeline asked, or a plan it made that will
    not run as hoped, and why (the command line prints it as ``warning: ...``)."""
