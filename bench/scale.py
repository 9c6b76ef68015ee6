"""Scale bench (issue 12): plan a 405B / 671B training step from this CPU.

For each case: ``ctc capture`` (fake tensors, fake process group), ``ctc opt --passes
"bucket(auto)"`` and ``ctc simulate``, each in a process of its own, with its wall time and peak
memory (the child's own maximum RSS). Before a case starts, its peak memory is estimated from
the model's size and checked against the limit (``--limit-gib``, default 24, and never more than
the memory available now); a case that would not fit is refused with the estimate and the limit,
instead of being killed half way. Simulated step time and peak memory per rank come from the
device profile, with the margin against the device's memory.

``--linear`` measures whether planning time grows linearly with depth: llama3 8B's width with
8, 32 and 126 transformer blocks, CPU time per IR op of bucket(block), bucket(auto), reorder
(the pass alone) and the simulator, medians of 3; the target is at most 1.2x at 126 blocks what it
is at 8.

usage: python bench/scale.py [--cases NAME,...] [--limit-gib N] [--quick] [--keep DIR]
       python bench/scale.py --quick     # llama3 debugmodel only (what the test runs)
       python bench/scale.py --linear [--layers 8,32,126]
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parents[1]


@attrs.frozen
class Case:
    key: str
    model: str
    flavor: str
    mesh: str
    device: str
    layers: int  # transformer blocks, for the memory estimate
    ops_per_layer: int  # IR ops per block, about (measured on smaller flavors)


CASES = {
    case.key: case
    for case in (
        Case("llama3-405b", "llama3", "405B", "dp_shard=64,tp=8", "h100", 126, 420),
        Case(
            "llama3-405b-hsdp", "llama3", "405B", "dp_replicate=8,dp_shard=8,tp=8", "h100", 126, 420
        ),
        Case("dsv3-671b", "deepseek_v3", "671B", "dp_shard=64,ep=64", "h100-ib", 61, 930),
        Case("llama3-debug", "llama3", "debugmodel", "dp_shard=2,tp=4", "h100", 6, 420),
    )
}
DEFAULT_CASES = ("llama3-405b", "llama3-405b-hsdp", "dsv3-671b")

# Peak memory of a stage: a base (torch, torchtitan, the fake model) and a cost per IR op
# (FX graph, IR objects, the text, the scheduler's graph). Fitted generously to the captures of
# bench/capture.py (llama3 8B: 0.75 GiB, DeepSeek-v3 16B: 0.93 GiB, 671B: 1.7 GB).
BASE_GIB = 1.0
GIB_PER_OP = 48 * 2**10 / 2**30


def estimate_gib(case: Case) -> float:
    return BASE_GIB + case.layers * case.ops_per_layer * GIB_PER_OP


def available_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 2**20
    return float("inf")


def run_stage(name: str, command: list[str], quiet: bool) -> dict[str, Any]:
    """Runs one stage as a child process: its seconds, peak RSS, output and status."""
    if not quiet:
        print(f"  {name}: ctc {' '.join(command[3:])}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    child = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    peak = _peak_from(child.stderr)
    if not quiet:
        print(f"  {name}: {seconds:.1f} s, peak {peak:.2f} GiB", file=sys.stderr, flush=True)
    return {
        "seconds": seconds,
        "peak_gib": peak,
        "stdout": child.stdout,
        "stderr": child.stderr,
        "returncode": child.returncode,
    }


_PEAK = re.compile(r"^peak_rss_kib=(\d+)$", re.MULTILINE)


def _peak_from(stderr: str) -> float:
    match = _PEAK.search(stderr)
    return int(match.group(1)) / 2**20 if match else float("nan")


# Runs a ctc command and reports the process's own peak RSS on stderr at the end.
_WITH_PEAK = (
    "import resource, sys\n"
    "from ctc.cli.main import main\n"
    "try:\n"
    "    code = main(sys.argv[1:])\n"
    "finally:\n"
    "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    print(f'peak_rss_kib={peak}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def ctc(*arguments: str) -> list[str]:
    return [sys.executable, "-c", _WITH_PEAK, *arguments]


def run_case(case: Case, limit_gib: float, scratch: Path, quiet: bool) -> dict[str, Any]:
    row: dict[str, Any] = {"case": case.key, "model": f"{case.model} {case.flavor}"}
    row.update(mesh=case.mesh, device=case.device, estimate_gib=estimate_gib(case))
    row["limit_gib"] = limit_gib
    if row["estimate_gib"] > limit_gib:
        row["refused"] = (
            f"estimated peak {row['estimate_gib']:.1f} GiB exceeds the limit {limit_gib:.1f} GiB"
        )
        return row
    step, planned = scratch / f"{case.key}.ctc", scratch / f"{case.key}.auto.ctc"
    stages = [
        (
            "capture",
            ctc(
                "capture",
                "--model",
                case.model,
                "--flavor",
                case.flavor,
                "--mesh",
                case.mesh,
                "-o",
                str(step),
            ),
        ),
        (
            "bucket(auto)",
            ctc(
                "opt",
                str(step),
                "--passes",
                f'bucket(auto, device="{case.device}")',
                "--device",
                "cuda",
                "--timing",
                "-o",
                str(planned),
            ),
        ),
        ("simulate", ctc("simulate", str(planned), "--device", case.device, "--json")),
    ]
    for name, command in stages:
        result = run_stage(name, command, quiet)
        row[name] = {k: result[k] for k in ("seconds", "peak_gib", "returncode")}
        notes = [line for line in result["stderr"].splitlines() if "note:" in line]
        notes += [line for line in result["stderr"].splitlines() if "does not fit" in line]
        row.setdefault("notes", []).extend(notes)
        if result["returncode"] != 0:
            row["failed"] = f"{name}: {result['stderr'].strip().splitlines()[-2:]}"
            return row
        if name == "bucket(auto)":
            row["opt_timing"] = _timing_rows(result["stderr"])
        if name == "simulate":
            row["simulated"] = json.loads(result["stdout"])
    row["ir_mb"] = step.stat().st_size / 1e6
    return row


# A row of ctc opt's --timing table: "    0.1361    5.9%  (parse input)".
_TIMING_ROW = re.compile(r"^\s+([\d.]+)\s+[\d.]+%\s+(.+)$", re.MULTILINE)


def _timing_rows(stderr: str) -> dict[str, float]:
    return {name.strip(): float(seconds) for seconds, name in _TIMING_ROW.findall(stderr)}


def table(rows: list[dict[str, Any]]) -> str:
    header = (
        "| model | mesh | estimate / limit GiB | capture s (peak GiB) | bucket(auto) s "
        "(peak GiB) | simulate s (peak GiB) | IR MB | step ms | peak per rank | device memory |"
    )
    lines = [header, "|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|"]
    for row in rows:
        head = (
            f"| {row['model']} | {row['mesh']} | {row['estimate_gib']:.1f} / "
            f"{row['limit_gib']:.1f} |"
        )
        if "refused" in row:
            lines.append(head + f" refused: {row['refused']} |||||||")
            continue
        stages = [
            f" {row[s]['seconds']:.0f} ({row[s]['peak_gib']:.2f}) |" if s in row else " - |"
            for s in ("capture", "bucket(auto)", "simulate")
        ]
        if "failed" in row:
            lines.append(head + "".join(stages) + f" failed: {row['failed']} ||||")
            continue
        simulated = row["simulated"]
        peak = simulated["peak_memory_bytes"] / 2**30
        device = simulated["device_memory_bytes"] / 2**30
        fit = (
            "fits" if simulated["memory_margin_bytes"] >= 0 else f"over by {peak - device:.0f} GiB"
        )
        lines.append(
            head
            + "".join(stages)
            + f" {row['ir_mb']:.1f} | {simulated['step_ms']:.0f} | {peak:.1f} GiB | "
            f"{device:.0f} GiB ({fit}) |"
        )
    return "\n".join(lines)


LINEAR_PASSES = ("bucket(block)", "bucket(auto)", "reorder")

# Run in a child process: captures llama3 8B with N blocks and writes its IR.
_CAPTURE_LAYERS = """
import sys
sys.path.insert(0, {root!r})
from ctc.frontend_fx import export_joint, lift_captured
from ctc.ir import print_module
from ctc.models.torchtitan import build_step
step = build_step("llama3", "8B", "dp_shard=8", fake=True, layers={layers})
with export_joint(step.module, step.args, step.kwargs, module_paths=False) as captured:
    module = lift_captured(captured, step.layout)
open({path!r}, "w").write(print_module(module))
"""


def time_per_op(path: Path, runs: int = 3) -> dict[str, float]:
    """CPU microseconds per IR op of each pass alone and of the simulator, medians of ``runs``
    (CPU time: on a shared machine, wall time measures the neighbours)."""
    sys.path.insert(0, str(ROOT))
    from ctc.dsl import parse_pipeline
    from ctc.ir import parse_module, walk_ops
    from ctc.passes.manager import PassManager, RunOptions
    from ctc.schedule.cost import CostModel
    from ctc.schedule.profile import load_profile
    from ctc.schedule.simulate import simulate_module

    module = parse_module(path.read_text())
    gc.freeze()  # as ctc opt and ctc simulate do after parsing
    ops = sum(1 for f in module.functions for _ in walk_ops(f.ops))
    result: dict[str, float] = {"ops": ops}
    for text in LINEAR_PASSES:
        seconds = []
        for _ in range(runs):
            manager = PassManager(parse_pipeline(text, device="cuda"), RunOptions(device="cuda"))
            start = time.process_time()
            manager.run(module)
            seconds.append(time.process_time() - start)
        result[text] = statistics.median(seconds) / ops * 1e6
    cost_model = CostModel(load_profile("h100"), module.mesh)
    seconds = []
    for _ in range(runs):
        start = time.process_time()
        simulate_module(module, cost_model)
        seconds.append(time.process_time() - start)
    result["simulate"] = statistics.median(seconds) / ops * 1e6
    return result


def linear_rows(layer_counts: list[int], scratch: Path, quiet: bool) -> dict[int, dict[str, float]]:
    """Per block count: IR ops and microseconds per op of each stage."""
    rows = {}
    for layers in layer_counts:
        path = scratch / f"llama3-8b-{layers}.ctc"
        if not path.exists():
            if not quiet:
                print(f"capturing llama3 8B with {layers} blocks ...", file=sys.stderr, flush=True)
            code = _CAPTURE_LAYERS.format(root=str(ROOT), layers=layers, path=str(path))
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        rows[layers] = time_per_op(path)
        if not quiet:
            print(f"  {layers} blocks: {rows[layers]}", file=sys.stderr, flush=True)
    return rows


def linear_table(rows: dict[int, dict[str, float]]) -> str:
    layer_counts = sorted(rows)
    first = layer_counts[0]
    header = (
        "| stage | " + " | ".join(f"{n} blocks us/op" for n in layer_counts) + " | ratio | target |"
    )
    lines = [header, "|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|"]
    lines.append(
        "| IR ops | " + " | ".join(f"{rows[n]['ops']:.0f}" for n in layer_counts) + " | | |"
    )
    for stage in (*LINEAR_PASSES, "simulate"):
        ratio = rows[layer_counts[-1]][stage] / rows[first][stage]
        verdict = "met" if ratio <= 1.2 else f"{ratio / 1.2:.2f}x over"
        cells = " | ".join(f"{rows[n][stage]:.1f}" for n in layer_counts)
        lines.append(f"| {stage} | {cells} | {ratio:.2f} | {verdict} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(DEFAULT_CASES), help=f"of {', '.join(CASES)}")
    parser.add_argument("--quick", action="store_true", help="llama3 debugmodel only")
    parser.add_argument("--limit-gib", type=float, default=24.0, help="memory limit (24)")
    parser.add_argument("--keep", metavar="DIR", help="keep the IR files here")
    parser.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--linear", action="store_true", help="time per op against depth")
    parser.add_argument("--layers", default="8,32,126", help="block counts for --linear")
    args = parser.parse_args()
    if args.linear:
        with tempfile.TemporaryDirectory() as temporary:
            scratch = Path(args.keep or temporary)
            scratch.mkdir(parents=True, exist_ok=True)
            counts = [int(n) for n in args.layers.split(",")]
            print(linear_table(linear_rows(counts, scratch, args.quiet)))
        return 0
    keys = ["llama3-debug"] if args.quick else args.cases.split(",")
    unknown = [k for k in keys if k not in CASES]
    if unknown:
        parser.error(f"unknown case '{unknown[0]}' (known: {', '.join(CASES)})")
    limit = min(args.limit_gib, available_gib())
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        scratch = Path(args.keep or temporary)
        scratch.mkdir(parents=True, exist_ok=True)
        for key in keys:
            case = CASES[key]
            if not args.quiet:
                print(
                    f"{key}: {case.model} {case.flavor} on {case.mesh}, estimated peak "
                    f"{estimate_gib(case):.1f} GiB of {limit:.1f} GiB",
                    file=sys.stderr,
                    flush=True,
                )
            rows.append(run_case(case, limit, scratch, args.quiet))
    print(table(rows))
    for row in rows:
        for note in dict.fromkeys(row.get("notes", [])):
            print(f"{row['case']}: {note.strip()}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0 if all("failed" not in row for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
