"""The simulator against the clock (issue 13): simulated step times with a calibrated CPU profile
beside steady step times measured on real gloo ranks, per model, rank count and pipeline.

1. Profiles: for each rank count, the models are captured (fake process group, the validated
   meshes) only to read their kernel shapes, and ``ctc calibrate --ranks N --shapes ...`` times
   those kernels alone (never the steps validated here) into ``cpuN.json``.
2. Measured: ``--runs`` launches of N gloo processes (``validate_run``); each compiles the step
   with every pipeline through ``ctc.compile`` and times ``--steps`` rounds of one step per
   pipeline; a run's time is the median of its steps (the slowest rank of each step), the row's
   the median of the runs, the spread the range of the runs' medians.
3. Simulated: the ``@fwd`` and ``@bwd`` IR that each compiled step runs, simulated with the
   profile (the ``@joint`` simulation is shown too); expert-parallel token counts at balanced
   routing (``ctc.ir.symbols``, as ``ctc simulate`` sizes them).

The machine's load average is recorded before each run: timings taken while other jobs run are
noise, and the table says what the load was.

Usage: .venv/bin/python bench/validate.py [--model llama3 deepseek_v3] [--ranks 4 8]
           [--pipelines none block auto] [--runs 3] [--steps 5] [--attribute] [--report-only]
       (--calibrate-only --model llama3 deepseek_v3 first: one profile per rank count for both)
Results: bench/results/validate/ (cpuN.json profiles, one JSON per model and rank count) and
bench/results/validate.md (--quick: bench/results/validate-quick/ and validate-quick.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from validate_report import report_markdown, report_text  # noqa: E402
from validate_run import PIPELINES, Job, measure_rank  # noqa: E402

RESULTS = HERE / "results" / "validate"
MESHES = {
    ("llama3", 4): "dp_shard=2,tp=2",
    ("llama3", 8): "dp_shard=2,tp=4",
    ("deepseek_v3", 4): "dp_shard=2,tp=2,ep=2",
    ("deepseek_v3", 8): "dp_shard=2,tp=4,ep=2",
}
CTC = [sys.executable, "-m", "ctc"]


def say(message: str) -> None:
    print(f"validate: {message}", file=sys.stderr, flush=True)


def load_average() -> float:
    return os.getloadavg()[0]


def ensure_profile(ranks: int, args: argparse.Namespace) -> Path:
    """``cpuN.json``: captured shapes of every model at ``ranks``, calibrated alone."""
    path: Path = args.results / f"cpu{ranks}.json"
    if path.exists() and not args.calibrate:
        return path
    shapes = []
    # A profile times the kernels of the models named when it is made (--calibrate-only with
    # every model first, so that one profile serves all of them).
    for model in args.model:
        ir = args.results / f"{model}-{ranks}.ctc"
        if not ir.exists():
            say(f"capturing {model} on {MESHES[(model, ranks)]} for its kernel shapes")
            _check([*CTC, "capture", "--model", model, "--mesh", MESHES[(model, ranks)],
                    "--seq-len", str(args.seq_len), "--batch", str(args.batch), "-o", str(ir)])  # fmt: skip
        shapes.append(str(ir))
    load = load_average()
    say(f"calibrating {ranks} processes (load average {load:.1f})")
    quick = ["--quick"] if args.quick else []
    _check([*CTC, "calibrate", "--ranks", str(ranks), "--shapes", *shapes, *quick, "-o", str(path)])
    (args.results / f"cpu{ranks}.load").write_text(f"{load:.2f}\n")
    return path


def _check(command: list[str]) -> None:
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"validate: {' '.join(command)} exited with {completed.returncode}")


def measure(model: str, ranks: int, profile: Path, args: argparse.Namespace) -> dict[str, Any]:
    from ctc.launch import run_on_ranks

    job = Job(
        model=model,
        flavor="debugmodel",
        mesh=MESHES[(model, ranks)],
        seq_len=args.seq_len,
        batch=args.batch,
        pipelines=tuple(args.pipelines),
        steps=args.steps,
        warmup=args.warmup,
        attribute=args.attribute,
        device_profile=str(profile),
    )
    runs = []
    for number in range(args.runs):
        load = load_average()
        say(f"{model} on {ranks} ranks, run {number + 1}/{args.runs} (load average {load:.1f})")
        began = time.perf_counter()
        per_rank = run_on_ranks(measure_rank, ranks, job, rank_timeout_s=1800)
        times = {
            name: [max(rank["times"][name][i] for rank in per_rank) for i in range(args.steps)]
            for name in job.pipelines
        }
        runs.append(
            {
                "load_before": load,
                "load_after": load_average(),
                "wall_s": time.perf_counter() - began,
                "step_s": times,
                "attribution": per_rank[0]["attribution"],
            }
        )
        modules = per_rank[0]["modules"]
    return {"model": model, "ranks": ranks, "mesh": job.mesh, "seq_len": args.seq_len,
            "batch": args.batch, "runs": runs, "modules": modules}  # fmt: skip


def simulate(result: dict[str, Any], profile_path: Path) -> dict[str, Any]:
    """Simulated milliseconds of each pipeline's compiled step: @fwd + @bwd, and @joint."""
    from validate_report import simulated_kinds

    from ctc.ir import parse_module
    from ctc.ir.symbols import routed_symbol_sizes, with_sizes
    from ctc.schedule.cost import CostModel
    from ctc.schedule.profile import load_profile
    from ctc.schedule.simulate import simulate_function

    profile = load_profile(str(profile_path))
    simulated = {}
    for name, stages in result["modules"].items():
        entry: dict[str, Any] = {}
        for stage, text in stages.items():
            module = parse_module(text, f"<{name} @{stage}>")
            module = with_sizes(module, routed_symbol_sizes(module))
            model = CostModel(profile, module.mesh)
            report = simulate_function(module.functions[0], model)
            entry[stage] = report.to_json()
            entry[f"{stage}_kinds"] = simulated_kinds(module.functions[0], model, report)
        simulated[name] = entry
    return simulated


def result_path(results: Path, model: str, ranks: int) -> Path:
    return results / f"{model}-{ranks}.json"


def merge(path: Path, fresh: dict[str, Any]) -> dict[str, Any]:
    """Pipelines measured in an earlier part stay unless measured again."""
    if not path.exists():
        return fresh
    old = json.loads(path.read_text())
    fresh_names = set(fresh["modules"])
    kept = {k: v for k, v in old.get("modules", {}).items() if k not in fresh_names}
    if not kept:
        return fresh
    fresh["modules"] = {**kept, **fresh["modules"]}
    fresh["earlier_runs"] = [
        {**run, "step_s": {k: v for k, v in run["step_s"].items() if k in kept}}
        for run in old["runs"] + old.get("earlier_runs", [])
        if any(k in kept for k in run["step_s"])
    ]
    return fresh


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["llama3", "deepseek_v3"])
    parser.add_argument("--ranks", nargs="+", type=int, default=[4, 8], choices=[4, 8])
    parser.add_argument(
        "--pipelines", nargs="+", default=["none", "block", "auto"], choices=list(PIPELINES)
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=64)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--attribute", action="store_true", help="profile one more step each")
    parser.add_argument("--calibrate", action="store_true", help="calibrate again")
    parser.add_argument(
        "--calibrate-only", action="store_true", help="make the profiles, measure nothing"
    )
    parser.add_argument("--report-only", action="store_true", help="tables from saved results")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: quick calibration, 1 run of 2 steps"
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.steps, args.warmup = 1, 2, 1
        if args.results == RESULTS:  # a smoke run's profile never stands in for a full one
            args.results = RESULTS.parent / "validate-quick"
    args.results.mkdir(parents=True, exist_ok=True)
    if args.calibrate_only:
        for ranks in args.ranks:
            ensure_profile(ranks, args)
        return 0
    if not args.report_only:
        for ranks in args.ranks:
            profile = ensure_profile(ranks, args)
            for model in args.model:
                fresh = measure(model, ranks, profile, args)
                path = result_path(args.results, model, ranks)
                path.write_text(json.dumps(merge(path, fresh), indent=1))
    rows = []
    for path in sorted(args.results.glob("*-[48].json")):
        result = json.loads(path.read_text())
        profile = args.results / f"cpu{result['ranks']}.json"
        result["simulated"] = simulate(result, profile)
        load_file = profile.with_suffix(".load")
        result["calibration_load"] = float(load_file.read_text()) if load_file.exists() else None
        rows.append(result)
    print(report_text(rows))
    (args.results.parent / f"{args.results.name}.md").write_text(report_markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
