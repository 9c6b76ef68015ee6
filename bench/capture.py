"""Capture benchmark: build, capture, lift, print, parse and lower times, peak memory, graph size
and collective counts for llama3 debugmodel, llama3 8B and DeepSeek-v3 16B under the fake
process group (fake tensors: no parameter memory). Each case runs in its own process, so its
peak RSS is its own.

The IR text is the interface between every stage, so reading it must not be the slow part (issue
12). Per case: printing the lifted module (median of 3), and parse + verify in a fresh process
(median of 3 processes), against the targets: parse + verify >= 30k ops/s and no slower than the
lift, printing >= 100k ops/s. Which reader read each text: the fast reader, or lark after it
stopped (a fallback), also for the golden files, the examples and 200 generated modules.

usage: python bench/capture.py [--cases NAME,...] [--tracer direct|dynamo] [--batch N --seq-len N]
       python bench/capture.py --cases llama3-debug --tracer dynamo   # compare the tracers
       python bench/capture.py --text-only                              # the fallback counts
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
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

PARSE_TARGET_OPS_PER_S = 30_000
PRINT_TARGET_OPS_PER_S = 100_000

# Run in a fresh process: reads an IR file, parses and verifies it once, reports seconds and
# which reader read it.
_PARSE_ONCE = """
import json, sys, time
sys.path.insert(0, {root!r})
from ctc.ir.parser import PARSE_COUNTS, parse_module
text = open({path!r}).read()
start, cpu = time.perf_counter(), time.process_time()
parse_module(text, {path!r})
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({{"seconds": seconds, "cpu": cpu, "fallback": PARSE_COUNTS.fallback,
                  "reason": PARSE_COUNTS.last_fallback}}))
"""


def parse_in_fresh_processes(text: str, runs: int = 3) -> dict[str, Any]:
    """Median seconds of parse + verify, each run in a new process; and fallbacks seen."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "module.ctc"
        path.write_text(text)
        results = []
        for _ in range(runs):
            code = _PARSE_ONCE.format(root=str(ROOT), path=str(path))
            child = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            )
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    return {
        "parse_s": statistics.median(r["seconds"] for r in results),
        "parse_cpu_s": statistics.median(r["cpu"] for r in results),
        "parse_fallbacks": max(r["fallback"] for r in results),
        "parse_fallback_reason": results[-1]["reason"],
    }


def measure(case: str, tracer: str, batch: int | None, seq_len: int | None) -> dict[str, Any]:
    """Runs one case in this process."""
    sys.path.insert(0, str(ROOT))
    from ctc.frontend_fx import export_joint, lift_captured
    from ctc.ir import print_module
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
        start, cpu = time.perf_counter(), time.process_time()
        module = lift_captured(cap, step.layout)
        result["lift_s"] = time.perf_counter() - start
        result["lift_cpu_s"] = time.process_time() - cpu
    joint = module.function("joint")
    ops = list(walk_ops(joint.ops))
    result["ir_ops"] = len(ops)
    result["collectives"] = sum(isinstance(op, CollectiveOp) for op in ops)
    print_times, print_cpu = [], []
    for _ in range(3):
        start, cpu = time.perf_counter(), time.process_time()
        text = print_module(module)
        print_times.append(time.perf_counter() - start)
        print_cpu.append(time.process_time() - cpu)
    result["print_s"] = statistics.median(print_times)
    result["print_cpu_s"] = statistics.median(print_cpu)
    result["text_mb"] = len(text) / 1e6
    result.update(parse_in_fresh_processes(text))
    start = time.perf_counter()
    lower_function(joint, step.layout.group_names())
    result["lower_s"] = time.perf_counter() - start
    result["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return result


def table(rows: list[dict[str, Any]], tracer: str) -> str:
    header = (
        f"| case ({tracer}) | mesh | build s | capture s | lift s | capture+lift s | peak GiB | "
        "FX nodes | collectives | lift ms/1k nodes | lower ms/1k nodes |"
    )
    lines = [header, "|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|"]
    for row in rows:
        per_k = 1000 / row["nodes"]
        lines.append(
            f"| {row['model']} | {row['mesh']} | {row['build_s']:.1f} | {row['capture_s']:.1f} | "
            f"{row['lift_s']:.2f} | {row['capture_s'] + row['lift_s']:.1f} | "
            f"{row['peak_gib']:.2f} | {row['nodes']} | {row['collectives']} | "
            f"{row['lift_s'] * per_k * 1000:.0f} | {row['lower_s'] * per_k * 1000:.0f} |"
        )
    return "\n".join(lines)


def text_table(rows: list[dict[str, Any]]) -> str:
    """The IR text speeds against issue 12's targets, met or the distance. Rates are per CPU
    second of the process (wall seconds in brackets: on a shared machine they include waiting)."""
    header = (
        "| case | IR ops | MB | lift kops/s | print s | print kops/s | parse+verify s | "
        "parse+verify kops/s | vs lift | fallbacks | targets |"
    )
    lines = [header, "|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|"]
    for row in rows:
        ops = row["ir_ops"]
        lift_rate = ops / row["lift_cpu_s"]
        print_rate = ops / row["print_cpu_s"]
        parse_rate = ops / row["parse_cpu_s"]
        verdicts = []
        if parse_rate < PARSE_TARGET_OPS_PER_S:
            verdicts.append(f"parse {parse_rate / PARSE_TARGET_OPS_PER_S:.2f}x of 30k")
        if parse_rate < lift_rate:
            verdicts.append(f"parse {parse_rate / lift_rate:.2f}x of lift")
        if print_rate < PRINT_TARGET_OPS_PER_S:
            verdicts.append(f"print {print_rate / PRINT_TARGET_OPS_PER_S:.2f}x of 100k")
        lines.append(
            f"| {row['model']} | {ops} | {row['text_mb']:.1f} | {lift_rate / 1e3:.1f} | "
            f"{row['print_cpu_s']:.2f} ({row['print_s']:.2f}) | {print_rate / 1e3:.0f} | "
            f"{row['parse_cpu_s']:.2f} ({row['parse_s']:.2f}) | {parse_rate / 1e3:.1f} | "
            f"{parse_rate / lift_rate:.1f}x | {row['parse_fallbacks']} | "
            f"{'; '.join(verdicts) or 'met'} |"
        )
    return "\n".join(lines)


def fallback_counts() -> str:
    """How many of the golden files, examples and generated modules lark had to read."""
    sys.path.insert(0, str(ROOT))
    from hypothesis import given, settings

    from ctc.ir import Module, parse_module, print_module
    from ctc.ir.parser import PARSE_COUNTS
    from tests.ir.strategies import modules

    files = sorted((ROOT / "tests" / "golden" / "cases").glob("*.ctc"))
    files += sorted((ROOT / "examples").glob("*.ctc"))
    before = PARSE_COUNTS.fallback
    for path in files:
        parse_module(path.read_text(), str(path))
    file_fallbacks = PARSE_COUNTS.fallback - before
    generated = 0

    @settings(max_examples=200, database=None, deadline=None)
    @given(modules())
    def read(module: Module) -> None:
        nonlocal generated
        generated += 1
        parse_module(print_module(module))

    before = PARSE_COUNTS.fallback
    read()
    return (
        f"fallbacks to lark: {file_fallbacks} of {len(files)} golden and example files, "
        f"{PARSE_COUNTS.fallback - before} of {generated} generated modules"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES), help=f"of {', '.join(CASES)}")
    parser.add_argument("--tracer", default="direct", choices=("direct", "dynamo"))
    parser.add_argument("--batch", type=int)
    parser.add_argument("--seq-len", type=int)
    parser.add_argument("--text-only", action="store_true", help="only the fallback counts")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # one case, in a child process
    args = parser.parse_args()
    if args.case:
        print(json.dumps(measure(args.case, args.tracer, args.batch, args.seq_len)))
        return 0
    if args.text_only:
        print(fallback_counts())
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
    print()
    print(text_table(rows))
    print()
    print(fallback_counts())
    return 0


if __name__ == "__main__":
    sys.exit(main())
