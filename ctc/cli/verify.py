"""Parse and verify IR files (.ctc); print what they hold, or every located error.

Example:
  ctc verify step.ctc
  ctc verify step.ctc --json
  ctc capture --model llama3 --mesh dp_shard=2,tp=4 | ctc verify -
"""

from __future__ import annotations

import argparse
import json
import sys

from ctc.cli.io import read_text
from ctc.errors import SourceError
from ctc.ir import Module, parse_module
from ctc.ir.stats import module_stats


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="IR text files, or - for stdin")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file")


def run(args: argparse.Namespace) -> int:
    status = 0
    for path in args.files:
        text, name = read_text(path)
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
