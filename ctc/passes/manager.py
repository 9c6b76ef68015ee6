"""The pass manager: run a pipeline's passes in order, verify, time, dump, and report failures.

A pass scoped to a stage (``fwd(dce)``) sees a module holding only that stage's function (the
function is named after its stage: ``@joint``, ``@fwd``, ``@bwd``), and what it returns is merged
back by function name. An unscoped pass sees the functions of the stages it supports (all of
them for a stage-agnostic pass). A pass with nothing to work on is skipped, and the skip recorded.

A pass that raises, returns something other than a module, or (with ``verify_each``) returns IR
that fails verification stops the run with a ``PassFailure`` naming the pass. When a reproducer
directory is configured, it holds the IR before the pass, the one-pass pipeline, and the error,
and the message gives the exact ``ctc opt`` command that replays it.
"""

from __future__ import annotations

import shlex
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TextIO

import attrs

from ctc.errors import CtcError
from ctc.files import make_directory, write_output
from ctc.ir.core import STAGES, Module
from ctc.ir.printer import print_module
from ctc.ir.verifier import verify
from ctc.passes.pipeline import PassEntry, Pipeline

DUMP_HEADER = "// -----// IR Dump After {pass_text} //----- //"


@attrs.frozen
class RunOptions:
    """How the pass manager runs a pipeline (the ``ctc opt`` flags of the same names)."""

    verify_each: bool = False
    print_ir_after_all: bool = False
    # Pass names (``dce``) or entry texts (``fwd(dce)``) to dump the IR after.
    print_ir_after: tuple[str, ...] = ()
    print_ir_after_change: bool = False
    # Where a failing pass's reproducer directory goes (None: none is written), and the prefix
    # of its name: ``{reproducer_dir}/{reproducer_prefix}{pass}.reproducer``.
    reproducer_dir: str | None = None
    reproducer_prefix: str = ""
    # The target the pipeline was bound to, repeated in the replay command.
    device: str = "cpu"
    # Told each pass's text before it runs and "text: seconds" after (ctc opt's progress).
    progress: Callable[[str], None] | None = None


@attrs.frozen
class PassRecord:
    """What one pass did: its pipeline text, wall time, whether the IR changed, why skipped."""

    text: str
    seconds: float
    changed: bool
    skipped: str | None = None


class PassFailure(CtcError):
    """A pass crashed or produced invalid IR; ``reproducer`` is its directory when written."""

    def __init__(self, message: str, reproducer: Path | None = None, command: str = "") -> None:
        super().__init__(message)
        self.reproducer = reproducer
        self.command = command


def _view(module: Module, entry: PassEntry) -> tuple[Module | None, str | None]:
    """The part of ``module`` an entry works on, or None and the reason to skip it."""
    if entry.stage is None and set(entry.pass_.stages) == set(STAGES):
        return module, None
    stages = entry.stages
    selected = tuple(func for func in module.functions if func.name in stages)
    if not selected:
        have = ", ".join("@" + func.name for func in module.functions) or "no functions"
        wanted = ", ".join("@" + stage for stage in stages)
        return None, f"it works on {wanted}, and the module has {have}"
    if len(selected) == len(module.functions):
        return module, None
    return attrs.evolve(module, functions=selected), None


def _merge(module: Module, view: Module, result: Module) -> Module:
    """``module`` with the functions of ``view`` replaced by those of ``result``, by name."""
    if view is module:
        return result
    in_view = {func.name for func in view.functions}
    outside = {func.name for func in module.functions} - in_view
    clash = [func.name for func in result.functions if func.name in outside]
    if clash:
        raise CtcError(f"the pass returned @{clash[0]}, a function it was not given")
    returned = {func.name: func for func in result.functions}
    functions = [returned.get(func.name, func) for func in module.functions]
    functions = [f for f in functions if f.name not in in_view or f.name in returned]
    functions += [func for func in result.functions if func.name not in in_view]
    return attrs.evolve(module, functions=tuple(functions), attributes=result.attributes)


class PassManager:
    """Runs ``pipeline``; a bad ``print_ir_after`` name stops things before any pass runs."""

    def __init__(
        self,
        pipeline: Pipeline,
        options: RunOptions | None = None,
        dump: TextIO | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.options = options or RunOptions()
        self._dump = dump
        texts = {entry.name for entry in pipeline.entries} | {str(e) for e in pipeline.entries}
        for name in self.options.print_ir_after:
            if name not in texts:
                known = ", ".join(dict.fromkeys(e.name for e in pipeline.entries)) or "none"
                raise CtcError(f"--print-ir-after={name} names no pass of the pipeline ({known})")
        self.records: list[PassRecord] = []
        self.verify_seconds = 0.0

    def run(self, module: Module) -> Module:
        for index, entry in enumerate(self.pipeline.entries):
            module = self._run_one(index, entry, module)
        return module

    def _run_one(self, index: int, entry: PassEntry, module: Module) -> Module:
        view, skip_reason = _view(module, entry)
        if view is None:
            self.records.append(PassRecord(str(entry), 0.0, False, skip_reason))
            self._maybe_dump(entry, module, changed=False)
            return module
        progress = self.options.progress
        if progress is not None:
            progress(f"{entry} ({index + 1}/{len(self.pipeline.entries)}) ...")
        start = time.perf_counter()
        try:
            returned = entry.pass_.run(view)
        except CtcError as error:
            raise CtcError(f"pass '{entry}': {error}") from None
        except BrokenPipeError:
            raise  # stdout or stderr was closed (`| head`): the command ends, the pass is fine
        except Exception as error:
            details = traceback.format_exc()
            self._fail(index, entry, module, f"failed: {type(error).__name__}: {error}", details)
        seconds = time.perf_counter() - start
        if progress is not None:
            progress(f"{entry}: {seconds:.1f} s")
        if not isinstance(returned, Module):
            message = f"returned a {type(returned).__name__}, not a Module"
            self._fail(index, entry, module, message, "")
        result = _merge(module, view, returned)
        if self.options.verify_each:
            start = time.perf_counter()
            problems = verify(result)
            self.verify_seconds += time.perf_counter() - start
            if problems:
                listing = "\n".join(f"  {problem}" for problem in problems)
                self._fail(index, entry, module, f"produced invalid IR:\n{listing}", listing)
        changed = result != module
        self.records.append(PassRecord(str(entry), seconds, changed))
        self._maybe_dump(entry, result, changed)
        return result

    def _maybe_dump(self, entry: PassEntry, module: Module, changed: bool) -> None:
        options = self.options
        wanted = (
            options.print_ir_after_all
            or (options.print_ir_after_change and changed)
            or entry.name in options.print_ir_after
            or str(entry) in options.print_ir_after
        )
        if not wanted:
            return
        stream = self._dump or sys.stderr
        stream.write(DUMP_HEADER.format(pass_text=entry) + "\n")
        stream.write(print_module(module) + "\n")

    def _fail(
        self, index: int, entry: PassEntry, before: Module, what: str, details: str
    ) -> NoReturn:
        where = f"pass '{entry}' ({index + 1} of {len(self.pipeline.entries)})"
        message = f"{where} {what}"
        if self.options.reproducer_dir is None:
            raise PassFailure(message)
        directory = Path(self.options.reproducer_dir) / (
            f"{self.options.reproducer_prefix}{entry.name}.reproducer"
        )
        command = write_reproducer(directory, before, entry, message, details, self.options)
        raise PassFailure(
            f"{message}\nreproducer: {directory}/ (the IR before the pass, the one-pass "
            f"pipeline, the error)\nreplay with: {command}",
            directory,
            command,
        )

    def timings(self) -> list[tuple[str, float]]:
        """(label, seconds) for each pass run, then the verifier's total when it ran."""
        rows = [(record.text, record.seconds) for record in self.records if not record.skipped]
        if self.options.verify_each:
            rows.append(("(verify after each pass)", self.verify_seconds))
        return rows

    def skipped(self) -> list[PassRecord]:
        return [record for record in self.records if record.skipped]


def write_reproducer(
    directory: Path,
    before: Module,
    entry: PassEntry,
    message: str,
    details: str,
    options: RunOptions,
) -> str:
    """Writes the reproducer files and returns the command that replays the failure."""
    input_path = directory / "input.ctc"
    try:
        make_directory(directory)
        write_output(input_path, print_module(before))
        write_output(directory / "pipeline.txt", entry.format() + "\n")
        write_output(directory / "error.txt", message + "\n\n" + details)
    except CtcError as error:
        raise CtcError(f"{message}\n(no reproducer: {error})") from None
    command = [
        "ctc",
        "opt",
        str(input_path),
        "--passes",
        entry.format(),
        "--device",
        options.device,
    ]
    if options.verify_each:
        command.append("--verify-each")
    return shlex.join(command)


def timing_report(rows: list[tuple[str, float]]) -> str:
    """A table of wall times and shares, in run order, with the total."""
    total = sum(seconds for _, seconds in rows)
    lines = [
        "===- ctc timing report -===",
        f"  total: {total:.4f} s",
        "  wall (s)   share  name",
    ]
    for label, seconds in rows:
        share = 100.0 * seconds / total if total > 0 else 0.0
        lines.append(f"  {seconds:8.4f}  {share:5.1f}%  {label}")
    return "\n".join(lines) + "\n"
