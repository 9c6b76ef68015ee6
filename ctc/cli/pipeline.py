"""Check a pass pipeline string and print it canonically, or list the passes there are.

The canonical text spells out aliases (the reference system's pass names) and leaves out options
at their default (--explicit shows them). An error names the column, with a caret under it.
Without --device nothing is assumed about the target; with it, target requirements are checked.

Example:
  ctc pipeline "transformer_block_bucketing,regional_inductor"
  ctc pipeline "bucket(block, prefetch=1, cap=25MB),fwd(inductor(regions))" --explicit
  ctc pipeline "regional_inductor,cudagraph" --device cpu
  ctc pipeline --list
"""

from __future__ import annotations

import argparse

from ctc.dsl import ALIASES, parse_pipeline
from ctc.errors import CtcError
from ctc.passes.base import DEVICES, STAGES, Pass
from ctc.passes.registry import default_registry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", nargs="?", metavar="PIPELINE", help="a pipeline string")
    parser.add_argument(
        "--explicit", action="store_true", help="print every option, defaults included"
    )
    parser.add_argument(
        "--device",
        choices=DEVICES,
        help="check the pipeline can run on this target (default: no target assumed)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="list the passes (stages, options, defaults, docs) and the aliases",
    )


def run(args: argparse.Namespace) -> int:
    if args.list:
        print(list_passes(), end="")
        return 0
    if args.pipeline is None:
        raise CtcError("give a pipeline string, or --list (see ctc pipeline --help)")
    pipeline = parse_pipeline(args.pipeline, device=args.device)
    print(pipeline.format(explicit=args.explicit))
    return 0


def _describe_pass(cls: type[Pass]) -> list[str]:
    flags = []
    if cls.must_be_last:
        flags.append("must be last")
    if cls.conflicts_with:
        flags.append("conflicts with " + ", ".join(cls.conflicts_with))
    if tuple(cls.devices) != DEVICES:
        flags.append("devices: " + ", ".join(cls.devices))
    lines = [f"{cls.name} - {cls.summary()}", f"    stages: {', '.join(cls.stages)}"]
    if flags:
        lines[-1] += "; " + "; ".join(flags)
    for option in cls.option_specs():
        default = "required" if option.required else f"default {option.kind.format(option.default)}"
        if option.positional:
            default += ", positional"
        lines.append(f"    {option.name}: {option.kind.describe()} ({default})")
        lines.append(f"        {option.doc}")
    return lines


def list_passes() -> str:
    registry = default_registry()
    lines = [f"passes (stages: {', '.join(STAGES)}):"]
    for name in registry.names():
        lines += ["  " + line for line in _describe_pass(registry.pass_class(name))]
    lines.append("aliases (the reference system's pass names):")
    width = max(len(alias) for alias in ALIASES)
    lines += [f"  {alias:<{width}}  {expansion}" for alias, expansion in ALIASES.items()]
    return "\n".join(lines) + "\n"
