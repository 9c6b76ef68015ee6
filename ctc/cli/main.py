"""The ``ctc`` command: one entry point, a subcommand per module under ``ctc.cli``.

Each subcommand module defines ``add_arguments(parser)`` and ``run(args) -> int`` and imports
torch only inside ``run`` when it needs it, so torch-free subcommands start fast. A ``CtcError``
(bad input) is printed without a traceback and exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from ctc.errors import CtcError

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


def _available(module_name: str) -> bool:
    return importlib.util.find_spec(module_name) is not None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ctc",
        description="ctc: a compiler toolkit for training parallel PyTorch models.",
        epilog="Example: ctc verify model.ctc    (run `ctc COMMAND --help` for each command)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if not _available(module_name):
            continue
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(
            name,
            help=help_text,
            description=(module.__doc__ or help_text).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._module.run(args))
    except CtcError as error:
        print(f"error: {error}" if "error:" not in str(error) else str(error), file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
