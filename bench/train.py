"""Training benchmark: real steps on gloo ranks, contenders side by side in one run.

For one model and mesh, each contender trains ``--steps`` SGD steps on the same synthetic batch
in its own launch of the ranks, with a cold inductor cache of its own: eager DTensor, and
``ctc.compile`` with each pipeline. Per contender: first step (capture + passes + compile + the
step itself), steady step (median of steps 3..N, with the min-max spread), collectives per step
(in the compiled ``@fwd`` and ``@bwd``), peak RSS of the busiest rank, and the last loss. The
targets of issues 8 and 9 are checked in the last table.

usage: python bench/train.py                       # llama3 debugmodel_flex_attn, dp_shard=2,tp=2
       python bench/train.py --quick               # 4 steps, tiny sizes: a smoke run
       python bench/train.py --contenders "bucket(block);inductor(all)" --seq-len 64 --batch 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EAGER = "eager"
CONTENDERS = (
    EAGER,
    "",
    "bucket(block)",
    "bucket(block),inductor(regions)",
    "inductor(all)",
)


def _label(contender: str) -> str:
    if contender == EAGER:
        return "eager DTensor"
    return f"ctc {contender}" if contender else "ctc (no passes)"


def rank_worker(
    rank: int,
    world_size: int,
    model: str,
    flavor: str,
    mesh: str,
    contender: str,
    batch: int,
    seq_len: int,
    steps: int,
) -> dict[str, Any]:
    """One rank: build the step, train ``steps`` SGD steps, time each."""
    import torch

    import ctc
    from ctc.ir.core import walk_ops
    from ctc.ir.ops import CollectiveOp
    from ctc.models.torchtitan import build_step

    built = build_step(model, flavor, mesh, batch=batch, seq_len=seq_len, fake=False)
    step_module: Any = built.module
    if contender != EAGER:
        step_module = ctc.compile(built.module, pipeline=contender, mesh=built.layout, device="cpu")
    optimizer = torch.optim.SGD(built.module.parameters(), lr=1e-3)
    times, losses = [], []
    for _ in range(steps):
        began = time.perf_counter()
        optimizer.zero_grad()
        loss = step_module(*built.args, **built.kwargs)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - began)
        losses.append(float(loss.detach().float()))
    collectives = None
    if contender != EAGER:
        report = step_module.last_report()
        collectives = sum(
            isinstance(op, CollectiveOp)
            for stage in ("fwd", "bwd")
            for op in walk_ops(report.modules[stage].functions[0].ops)
        )
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"times": times, "losses": losses, "collectives": collectives, "peak_kib": peak_kib}


def run_contender(args: argparse.Namespace, contender: str) -> dict[str, Any]:
    from ctc.launch import run_on_ranks
    from ctc.models.mesh import MeshSpec

    world_size = MeshSpec.parse(args.mesh).world_size
    with tempfile.TemporaryDirectory(prefix="ctc-bench-inductor-") as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # cold caches, inherited by the ranks
        results = run_on_ranks(
            rank_worker,
            world_size,
            args.model,
            args.flavor,
            args.mesh,
            contender,
            args.batch,
            args.seq_len,
            args.steps,
            rank_timeout_s=args.rank_timeout,
            echo=open(os.devnull, "w"),  # noqa: SIM115 -- the ranks' own chatter stays out
        )
    times = results[0]["times"]
    steady = times[2:] if len(times) > 2 else times[-1:]
    return {
        "contender": _label(contender),
        "pipeline": contender,
        "first_step_s": max(r["times"][0] for r in results),
        "steady_s": statistics.median(steady),
        "steady_min_s": min(steady),
        "steady_max_s": max(steady),
        "collectives": results[0]["collectives"],
        "peak_gib": max(r["peak_kib"] for r in results) / 2**20,
        "final_loss": results[0]["losses"][-1],
    }


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| contender | first step s | steady s/step (min-max) | collectives/step | peak GiB/rank "
        "| final loss |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        collectives = "-" if row["collectives"] is None else str(row["collectives"])
        lines.append(
            f"| {row['contender']} | {row['first_step_s']:.1f} | {row['steady_s']:.2f} "
            f"({row['steady_min_s']:.2f}-{row['steady_max_s']:.2f}) | {collectives} "
            f"| {row['peak_gib']:.2f} | {row['final_loss']:.4f} |"
        )
    return "\n".join(lines)


def _targets(rows: list[dict[str, Any]]) -> str:
    by = {row["pipeline"]: row for row in rows}
    lines = ["| target | met | numbers |", "|---|---|---|"]
    eager, regions, blocks, whole = (
        by.get(EAGER),
        by.get("bucket(block),inductor(regions)"),
        by.get("bucket(block)"),
        by.get("inductor(all)"),
    )
    if eager and whole:
        ratio = whole["steady_s"] / eager["steady_s"]
        met = "yes" if ratio <= 2 / 3 else "**no**"
        lines.append(
            f"| inductor(all) steady step at most 2/3 of eager's | {met} | "
            f"{whole['steady_s']:.2f} s / {eager['steady_s']:.2f} s = {ratio:.2f} |"
        )
    if regions and blocks:
        met = "yes" if regions["steady_s"] <= blocks["steady_max_s"] else "**no**"
        lines.append(
            f"| inductor(regions) no slower than without inductor | {met} | "
            f"{regions['steady_s']:.2f} s vs {blocks['steady_s']:.2f} s "
            f"(spread {blocks['steady_min_s']:.2f}-{blocks['steady_max_s']:.2f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="llama3")
    parser.add_argument("--flavor", default="debugmodel_flex_attn")
    parser.add_argument("--mesh", default="dp_shard=2,tp=2")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument(
        "--contenders",
        default=";".join(CONTENDERS[1:]),
        help="ctc pipelines separated by ';' (an empty one: no passes)",
    )
    parser.add_argument("--no-eager", action="store_true", help="leave out eager DTensor")
    parser.add_argument("--rank-timeout", type=float, default=1800)
    parser.add_argument("--quick", action="store_true", help="seq 64, batch 1, 4 steps")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    if args.quick:
        args.seq_len, args.batch, args.steps = 64, 1, 4
    contenders = [] if args.no_eager else [EAGER]
    contenders += [text.strip() for text in _split(args.contenders)]
    rows = []
    print(
        f"{args.model} {args.flavor}, {args.mesh}, batch {args.batch} x sequence {args.seq_len}, "
        f"{args.steps} steps (load average {os.getloadavg()[0]:.1f} at start)",
        flush=True,
    )
    for contender in contenders:
        began = time.perf_counter()
        row = run_contender(args, contender)
        rows.append(row)
        print(f"  {row['contender']}: done in {time.perf_counter() - began:.0f} s", flush=True)
    print(_table(rows))
    print()
    print(_targets(rows))
    if args.json:
        args.json.write_text(
            json.dumps({"config": vars(args) | {"json": None}, "rows": rows}, indent=1, default=str)
        )


def _split(text: str) -> list[str]:
    """Pipelines separated by ';' (pipelines themselves contain commas); '' is no passes."""
    return text.split(";")


if __name__ == "__main__":
    main()
