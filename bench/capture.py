"""Capture benchmark: build, capture, lift, print, parse and lower times, peak memory, graph size
and collective counts for llama3 debugmodel, llama3 8B and DeepSeek-v3 16B under the fake
process group (fake tensors: no parameter memory). Each case runs in its own process, so its
peak RSS is its own.

usage: python bench/capture.py [--cases NAME,...] [--tracer direct|dynamo] [--batch N --seq-len N]
       python bench/capture.py --cases llama3-debug --tracer dynamo   # compare the tracers
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# name -> (model, flavor, mesh)
CASES: dict[str, tuple[str, str, str]] = {
    "llama3-debug": ("llama3", "debugmodel", "dp_shard=2,tp=4"),
    "llama3-debug-flex": ("llama3", "debugmodel_flex_attn", "dp_shard=2,tp=4"),
    "dsv3-debug": ("deepseek_v3", "debugmodel", "dp_shard=2,tp=2,ep=2"),
    "llama3-8b": ("llama3", "8B", "dp_shard=2,tp=4"),
    "dsv3-16b": ("deepseek_v3", "16B", "dp_shard=2,tp=2,ep=2"),
}
DEFAULT_CASES = ("llama3-debug", "llama3-8b", "dsv3-16b")


def measure(case: str, tracer: str, batch: int | None, seq_len: int | None) -> dict[str, Any]:
    """Runs one case in this process."""
    sys.path.insert(0, str(ROOT))
    from ctc.frontend import export_joint, lift_captured
    from ctc.ir import parse_module, print_module
    from ctc.ir.core import walk_ops
    from ctc.ir.ops import CollectiveOp
    from ctc.lowering import lower_function
    from ctc.models.torchtitan import build_step

    model, flavor, mesh = CASES[case]
    result: dict[str, Any] = {"case": case, "model": f"{model} {flavor}", "mesh": mesh}
    start = time.perf_counter()
    step = build_step(model, flavor, mesh, batch=batch, seq_len=seq_len, fake=True)
    result["build_s"] = time.perf_counter() - start
    with export_joint(
        step.module, step.args, step.kwargs, tracer=tracer, module_paths=False
    ) as cap:
        result["capture_s"] = cap.seconds
        result["nodes"] = len(cap.graph_module.graph.nodes)
        start = time.perf_counter()
        module = lift_captured(cap, step.layout)
        result["lift_s"] = time.perf_counter() - start
    joint = module.function("joint")
    ops = list(walk_ops(joint.ops))
    result["ir_ops"] = len(ops)
    result["collectives"] = sum(isinstance(op, CollectiveOp) for op in ops)
    start = time.perf_counter()
    text = print_module(module)
    result["print_s"] = time.perf_counter() - start
    start = time.perf_counter()
    parse_module(text)
    result["parse_s"] = time.perf_counter() - start
    start = time.perf_counter()
    lower_function(joint, step.layout.group_names())
    result["lower_s"] = time.perf_counter() - start
    result["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return result


def table(rows: list[dict[str, Any]], tracer: str) -> str:
    header = (
        f"| case ({tracer}) | mesh | build s | capture s | lift s | capture+lift s | peak GiB | "
        "FX nodes | collectives | lift ms/1k nodes | lower ms/1k nodes | print s | parse s |"
    )
    lines = [header, "|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|"]
    for row in rows:
        per_k = 1000 / row["nodes"]
        lines.append(
            f"| {row['model']} | {row['mesh']} | {row['build_s']:.1f} | {row['capture_s']:.1f} | "
            f"{row['lift_s']:.2f} | {row['capture_s'] + row['lift_s']:.1f} | "
            f"{row['peak_gib']:.2f} | {row['nodes']} | {row['collectives']} | "
            f"{row['lift_s'] * per_k * 1000:.0f} | {row['lower_s'] * per_k * 1000:.0f} | "
            f"{row['print_s']:.2f} | {row['parse_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES), help=f"of {', '.join(CASES)}")
    parser.add_argument("--tracer", default="direct", choices=("direct", "dynamo"))
    parser.add_argument("--batch", type=int)
    parser.add_argument("--seq-len", type=int)
    parser.add_argument("--case", help=argparse.SUPPRESS)  # one case, in a child process
    args = parser.parse_args()
    if args.case:
        print(json.dumps(measure(args.case, args.tracer, args.batch, args.seq_len)))
        return 0
    rows = []
    for case in args.cases.split(","):
        if case not in CASES:
            parser.error(f"unknown case '{case}' (known: {', '.join(CASES)})")
        command = [sys.executable, __file__, "--case", case, "--tracer", args.tracer]
        for flag, value in (("--batch", args.batch), ("--seq-len", args.seq_len)):
            if value is not None:
                command += [flag, str(value)]
        print(f"running {case} ...", file=sys.stderr, flush=True)
        child = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        if child.returncode != 0:
            print(child.stderr[-3000:], file=sys.stderr)
            return 1
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
    print(table(rows, args.tracer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
