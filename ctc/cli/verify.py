"""Parse and verify IR files (.ctc); print what they hold, or every located error. Every file
given is reported; the exit status is 1 when any of them cannot be read or is not valid IR.

Example:
  ctc verify step.ctc
  ctc verify step.ctc --json
  ctc capture --model llama3 --mesh dp_shard=2,tp=4 | ctc verify -
"""

from __future__ import annotations

import argparse
import json
import sys

from ctc.errors import CtcError, SourceError
from ctc.files import read_text
from ctc.ir import Module, parse_module
from ctc.ir.stats import module_stats


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="IR text files, or - for stdin")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file")


def run(args: argparse.Namespace) -> int:
    """Every file is reported, good or bad; the status is 1 when any is bad."""
    status = 0
    for path in args.files:
        try:
            text, name = read_text(path, "an IR file")
        except CtcError as error:
            status = 1
            if args.json:
                print(json.dumps({"file": path, "ok": False, "errors": [{"message": str(error)}]}))
            else:
                print(f"error: {error}", file=sys.stderr)
            continue
        try:
            module = parse_module(text, name)
        except SourceError as error:
            status = 1
            if args.json:
                print(
                    json.dumps(
                        {
                            "file": name,
                            "ok": False,
                            "errors": [
                                {"line": d.line, "column": d.column, "message": d.message}
                                for d in error.diagnostics
                            ],
                        }
                    )
                )
            else:
                print(error, file=sys.stderr)
            continue
        _report(name, module, args.json)
    return status


def _report(name: str, module: Module, as_json: bool) -> None:
    stats = module_stats(module)
    if as_json:
        print(json.dumps({"file": name, "ok": True, **stats}, sort_keys=True))
        return
    print(f"{name}: ok")
    mesh = " x ".join(f"{dim}={size}" for dim, size in module.mesh) or "none"
    print(f"  mesh: {mesh}")
    for func in stats["functions"]:
        print(
            f"  @{func['name']}: {func['args']} args, {func['results']} results, "
            f"{func['ops']} ops, {func['regions']} regions, {func['collectives']} collectives"
        )
