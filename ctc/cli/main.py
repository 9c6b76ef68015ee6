"""The ``ctc`` command: one entry point, a subcommand per module under ``ctc.cli``.

Each subcommand module defines ``add_arguments(parser)`` and ``run(args) -> int`` and imports
torch only inside ``run`` when it needs it, so torch-free subcommands start fast. The module's
docstring is its ``--help`` text, with an example. Two things are caught here, nothing else: a
``CtcError`` (bad input, or a failure explained in words) is printed without a traceback and
exits 1; a closed stdout or stderr (``ctc ... | head``) ends the command quietly with status 141,
as a Unix tool that the closed pipe stopped. Anything else is a bug and shows its traceback.
A ``CtcWarning`` prints as ``warning: ...``, one line, without Python's file and line.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.metadata
import importlib.util
import io
import os
import platform
import sys
from collections.abc import Sequence

from ctc.errors import CtcError
from ctc.noise import show_ctc_warnings_plainly

# name -> (module, one-line help). Order is the order of `ctc --help`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "verify": ("ctc.cli.verify", "parse and verify IR files; report their contents"),
    "pipeline": ("ctc.cli.pipeline", "check a pass pipeline string and print it canonically"),
    "opt": ("ctc.cli.opt", "run a pass pipeline on IR text (like mlir-opt)"),
    "capture": ("ctc.cli.capture", "capture a model's training step and print its IR"),
    "simulate": ("ctc.cli.simulate", "simulate a step's timeline with a cost model"),
    "calibrate": ("ctc.cli.calibrate", "measure this machine's compute and gloo costs"),
    "train": ("ctc.cli.train", "train a model end to end with a pass pipeline"),
}

# 128 + SIGPIPE: what a shell reports for a tool stopped by writing to a closed pipe.
CLOSED_PIPE_STATUS = 141


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description as written (it holds examples); each option's help ends with its
    default unless it already says it or the option is a plain switch."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "default" in text
            or not action.option_strings
            or action.nargs == 0
            or action.default in (None, argparse.SUPPRESS)
        ):
            return text
        return text + " (default: %(default)s)"


def _available(module_name: str) -> bool:
    return importlib.util.find_spec(module_name) is not None


def version_text() -> str:
    """ctc's version and the versions it runs with, read without importing torch."""
    versions = []
    for package in ("ctc", "torch", "torchtitan"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} (not installed)")
    return f"{versions[0]} ({', '.join(versions[1:])}, Python {platform.python_version()})"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ctc",
        description="ctc: a compiler toolkit for training parallel PyTorch models.",
        epilog="Example: ctc verify model.ctc    (run `ctc COMMAND --help` for each command)",
    )
    parser.add_argument("--version", action="version", version=version_text())
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if not _available(module_name):
            continue
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(
            name,
            help=help_text,
            description=(module.__doc__ or help_text).strip(),
            formatter_class=HelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(_module=module)
    return parser


def _run(argv: Sequence[str] | None) -> int:
    show_ctc_warnings_plainly()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args))
    except CtcError as error:
        text = str(error)
        print(text if "error:" in text else f"error: {text}", file=sys.stderr)
        return 1


def _discard_output() -> None:
    """Points stdout and stderr at /dev/null, so that flushing them at exit cannot fail."""
    null = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        # A stream that is not a real file (a test's capture) flushes to no pipe: skip it.
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            os.dup2(null, stream.fileno())
    os.close(null)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:
        _discard_output()
        return CLOSED_PIPE_STATUS


if __name__ == "__main__":
    sys.exit(main())
