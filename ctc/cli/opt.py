"""Run a pass pipeline on IR text and write the resulting IR (like mlir-opt).

The pipeline is checked as a whole, and bound to the target (--device, default: cuda when this
machine shows a GPU, else cpu), before anything runs. Dumps, skip notes and the timing table go
to stderr; the IR goes to stdout or -o. A pass that crashes or (with --verify-each) produces
invalid IR stops the run; a reproducer directory is written and the command replaying it printed.
Passes that do not need torch run without importing it.

Example:
  ctc opt examples/two_blocks.ctc --passes "outline(kind=block),dce"
  ctc opt step.ctc --passes "fwd(dce),statistics" --verify-each --timing -o step.opt.ctc
  ctc opt - --passes dce --print-ir-after-all < step.ctc
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import attrs

from ctc.cli.progress import LARGE_OPS, Progress, op_count
from ctc.dsl import detect_device, parse_pipeline
from ctc.errors import CtcError
from ctc.files import check_output, read_text, write_output
from ctc.ir.parser import parse_module
from ctc.ir.printer import print_module
from ctc.ir.verifier import verify
from ctc.passes.base import DEVICES
from ctc.passes.manager import PassManager, RunOptions, timing_report
from ctc.passes.stages import plan_stages


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="an IR text file, or - for stdin")
    parser.add_argument(
        "--passes",
        default="",
        metavar="PIPELINE",
        help="the pass pipeline (default: none: parse, verify and print the IR)",
    )
    parser.add_argument("-o", "--output", metavar="OUT", help="write the IR here (default: stdout)")
    parser.add_argument(
        "--device", choices=DEVICES, help="the target (default: cuda if this machine has a GPU)"
    )
    parser.add_argument(
        "--verify-each", action="store_true", help="run the IR verifier after every pass"
    )
    parser.add_argument(
        "--print-ir-after-all", action="store_true", help="dump the IR after every pass"
    )
    parser.add_argument(
        "--print-ir-after",
        action="append",
        default=[],
        metavar="NAME",
        help="dump the IR after each pass of this name (repeatable, or comma-separated; "
        "default: none)",
    )
    parser.add_argument(
        "--print-ir-after-change",
        action="store_true",
        help="dump the IR after every pass that changed it",
    )
    parser.add_argument("--timing", action="store_true", help="print a table of time per pass")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help=f"no progress lines on stderr (shown for IR of {LARGE_OPS} ops or more)",
    )
    parser.add_argument(
        "--reproducer-dir",
        default=".",
        metavar="DIR",
        help="where a failing pass's reproducer directory goes (default: the current directory)",
    )


def check_reproducer_dir(path: str) -> None:
    """A reproducer directory is made only when a pass fails; a path that can never be one is
    refused before anything runs."""
    target = Path(path)
    for part in (target, *target.parents):
        if part.exists():
            if not part.is_dir():
                raise CtcError(f"--reproducer-dir {path}: {part} is not a directory")
            return


def run(args: argparse.Namespace) -> int:
    device = args.device or detect_device()
    pipeline = parse_pipeline(args.passes, device=device)
    check_output(args.output)
    check_reproducer_dir(args.reproducer_dir)
    text, name = read_text(args.file, "an IR file")
    stem = "stdin" if args.file == "-" else Path(args.file).name.removesuffix(".ctc")
    options = RunOptions(
        verify_each=args.verify_each,
        print_ir_after_all=args.print_ir_after_all,
        print_ir_after=tuple(n.strip() for a in args.print_ir_after for n in a.split(",")),
        print_ir_after_change=args.print_ir_after_change,
        reproducer_dir=args.reproducer_dir,
        reproducer_prefix=f"{stem}.",
        device=device,
    )
    rows: list[tuple[str, float]] = []
    start = time.perf_counter()
    module = parse_module(text, name)
    # The IR is immutable and lives as long as the command: out of the cyclic collector's way,
    # whose rescans of it would otherwise cost more the larger the model.
    gc.freeze()
    rows.append(("(parse input)", time.perf_counter() - start))
    ops = op_count(module)
    progress = Progress("opt", not args.quiet and ops >= LARGE_OPS)
    progress.say(f"parsed {name}: {ops} ops in {rows[-1][1]:.1f} s")
    manager = PassManager(pipeline, attrs.evolve(options, progress=progress.say))
    # Every pass must have a function of its stage to work on: an error, not a silent skip.
    plan_stages(pipeline, [func.name for func in module.functions], running="the module has")
    module = manager.run(module)
    rows += manager.timings()
    if pipeline.entries and not args.verify_each:
        start = time.perf_counter()
        problems = verify(module)
        rows.append(("(verify output)", time.perf_counter() - start))
        if problems:
            listing = "\n".join(f"  {problem}" for problem in problems)
            raise CtcError(
                "the IR after the pipeline fails verification (rerun with --verify-each "
                f"to find the pass):\n{listing}"
            )
    start = time.perf_counter()
    with progress.stage(f"printing and writing {args.output or 'stdout'}"):
        output = print_module(module)
        write_output(args.output, output)
    rows.append(("(print output)", time.perf_counter() - start))
    if args.timing:
        sys.stderr.write(timing_report(rows))
    return 0
