"""Training benchmark: contenders side by side in one run, each in torchtitan's training loop.

Every contender trains the same model, mesh, batch and sequence on ctc's corpus with
torchtitan's data loader, AdamW and schedule, in its own launch of the gloo ranks and with a
cold inductor cache of its own:
  eager      torchtitan's trainer on graph_trainer's model (SimpleFSDP DTensors), uncompiled;
  peer       torchtitan 0.3.0's graph_trainer, its default mode (make_fx trace of the step, its
             default passes, block bucketing among them), on the CPU with ctc's compat shims;
  PIPELINE   ctc's trainer (``ctc.trainer.CtcTrainer``) with that ctc pipeline ('' = none).
Per contender: first step (capture + passes + compile + the step), steady step (median of steps
3..N, with the min-max spread), collectives per step, peak RSS of the busiest rank, final loss.
The targets of issues 8 and 9 are checked in the last table.

usage: python bench/train.py                                   # issue 8: flex, dp_shard=2,tp=2
       python bench/train.py --flavor debugmodel --contenders "peer;bucket(block);bucket(block),inductor(all)"
       python bench/train.py --quick                           # sequence 64, batch 1, 4 steps
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
sys.path.insert(0, str(ROOT / "bench"))

EAGER, PEER = "eager", "peer"
DEFAULT_CONTENDERS = ";".join(
    [EAGER, "", "bucket(block)", "bucket(block),inductor(regions)", "inductor(all)"]
)


def _label(contender: str) -> str:
    if contender == EAGER:
        return "eager (torchtitan, SimpleFSDP)"
    if contender == PEER:
        return "peer: graph_trainer (default)"
    return f"ctc {contender}" if contender else "ctc (no passes)"


def _peer_config(model: str, flavor: str, contender: str) -> Any:
    """graph_trainer's own config for the flavor (compiled by it, or eager)."""
    from ctc.models.flavors import graph_trainer_config, resolve_flavor

    config = graph_trainer_config(resolve_flavor(model, flavor))
    if contender == EAGER:
        config.compile.enable = False
        config.compile.mode = None
    config.training.disable_cuda_graphs = True
    config.activation_checkpoint = None
    return config


def _overrides(config: Any, args: dict[str, Any]) -> None:
    from ctc.data import prepare_text_assets, torchtitan_data_settings
    from ctc.trainer.registry import TOKENIZER_VOCAB

    assets = prepare_text_assets(vocab_size=TOKENIZER_VOCAB)
    torchtitan_data_settings(assets.corpus_path, assets.tokenizer_path).apply(config)
    config.training.seq_len = args["seq_len"]
    config.training.local_batch_size = args["batch"]
    config.training.steps = args["steps"]
    config.metrics.log_freq = 1
    config.comm.init_timeout_seconds = 3600
    config.comm.train_timeout_seconds = 1800
    config.debug.seed = 0
    degrees = dict(item.split("=") for item in args["mesh"].split(","))
    config.parallelism.data_parallel_shard_degree = int(degrees.get("dp_shard", 1))
    config.parallelism.tensor_parallel_degree = int(degrees.get("tp", 1))
    config.parallelism.expert_parallel_degree = int(degrees.get("ep", 1))


def rank_worker(rank: int, world_size: int, contender: str, args: dict[str, Any]) -> dict[str, Any]:
    """One rank: build the contender's trainer, train, time every step."""
    from ctc import compat
    from ctc.trainer.registry import trainer_config

    compat.enable_torchtitan_training()
    if contender == PEER:
        import peer_shims

        peer_shims.apply()
    if contender in (EAGER, PEER):
        config = _peer_config(args["model"], args["flavor"], contender)
    else:
        config = trainer_config(args["model"], args["flavor"])
        config.compile.passes = contender
        config.ctc.progress = False
    _overrides(config, args)
    trainer = config.build()
    times: list[float] = []
    losses: list[float] = []
    original_step, original_log = trainer.train_step, trainer.metrics_processor.log

    def timed_step(iterator: Any) -> None:
        began = time.perf_counter()
        original_step(iterator)
        times.append(time.perf_counter() - began)

    def logged(step: int, loss: float, *rest: Any, **kwargs: Any) -> None:
        losses.append(float(loss))
        original_log(step, loss, *rest, **kwargs)

    trainer.train_step = timed_step
    trainer.metrics_processor.log = logged
    try:
        trainer.train()
    finally:
        trainer.close()
    return {
        "times": times,
        "losses": losses,
        "collectives": _collectives(trainer, contender),
        "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def _collectives(trainer: Any, contender: str) -> int | None:
    if contender == EAGER:
        return None
    if contender == PEER:
        traced = getattr(trainer, "_traced_step", None)
        if traced is None:
            return None
        return sum(
            1
            for node in traced.gm.graph.nodes
            if node.op == "call_function"
            and getattr(node.target, "namespace", "") == "_c10d_functional"
            and "wait" not in str(node.target)
        )
    from ctc.trainer.report import compiled_step_summary

    count: int = compiled_step_summary(trainer.compiled)["collectives_per_step"]
    return count


def run_contender(args: argparse.Namespace, contender: str) -> dict[str, Any]:
    from ctc.launch import run_on_ranks
    from ctc.models.mesh import MeshSpec

    world_size = MeshSpec.parse(args.mesh).world_size
    settings = {
        k: getattr(args, k) for k in ("model", "flavor", "mesh", "batch", "seq_len", "steps")
    }
    with tempfile.TemporaryDirectory(prefix="ctc-bench-inductor-") as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # cold caches, inherited by the ranks
        with open(os.devnull, "w") as quiet:
            results = run_on_ranks(
                rank_worker,
                world_size,
                contender,
                settings,
                rank_timeout_s=args.rank_timeout,
                init_process_group=False,
                echo=quiet,
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
        "final_loss": results[0]["losses"][-1] if results[0]["losses"] else float("nan"),
    }


def table(rows: list[dict[str, Any]]) -> str:
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


def _verdict(met: bool) -> str:
    return "yes" if met else "**no**"


def targets(rows: list[dict[str, Any]]) -> str:
    by = {row["pipeline"]: row for row in rows}
    lines = ["| target | met | numbers |", "|---|---|---|"]
    eager, peer, block = by.get(EAGER), by.get(PEER), by.get("bucket(block)")
    for name in ("inductor(all)", "bucket(block),inductor(all)"):
        whole = by.get(name)
        if eager and whole:
            ratio = whole["steady_s"] / eager["steady_s"]
            lines.append(
                f"| {name} steady step at most 2/3 of eager's | {_verdict(ratio <= 2 / 3)} | "
                f"{whole['steady_s']:.2f} s / {eager['steady_s']:.2f} s = {ratio:.2f} |"
            )
    regions = by.get("bucket(block),inductor(regions)")
    if regions and block:
        lines.append(
            f"| inductor(regions) no slower than without inductor | "
            f"{_verdict(regions['steady_s'] <= block['steady_max_s'])} | "
            f"{regions['steady_s']:.2f} s vs {block['steady_s']:.2f} s "
            f"(spread {block['steady_min_s']:.2f}-{block['steady_max_s']:.2f}) |"
        )
    if peer and block:
        first = block["first_step_s"] / peer["first_step_s"]
        lines.append(
            f"| ctc bucket(block) first step at most half the peer's | {_verdict(first <= 0.5)} | "
            f"{block['first_step_s']:.1f} s / {peer['first_step_s']:.1f} s = {first:.2f} |"
        )
        lines.append(
            f"| ctc bucket(block) steady step no slower than the peer's | "
            f"{_verdict(block['steady_s'] <= peer['steady_max_s'])} | "
            f"{block['steady_s']:.2f} s vs {peer['steady_s']:.2f} s "
            f"(spread {peer['steady_min_s']:.2f}-{peer['steady_max_s']:.2f}) |"
        )
        if block["collectives"] is not None and peer["collectives"] is not None:
            lines.append(
                f"| ctc bucket(block) collectives no more than the peer's | "
                f"{_verdict(block['collectives'] <= peer['collectives'])} | "
                f"{block['collectives']} vs {peer['collectives']} |"
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
        default=DEFAULT_CONTENDERS,
        help="';'-separated: eager, peer, or ctc pipelines ('' is ctc with no passes)",
    )
    parser.add_argument("--rank-timeout", type=float, default=3600)
    parser.add_argument("--quick", action="store_true", help="sequence 64, batch 1, 4 steps")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    if args.quick:
        args.seq_len, args.batch, args.steps = 64, 1, 4
    print(
        f"{args.model} {args.flavor}, {args.mesh}, batch {args.batch} x sequence {args.seq_len}, "
        f"{args.steps} steps (load average {os.getloadavg()[0]:.1f} at start)",
        flush=True,
    )
    rows = []
    for contender in args.contenders.split(";"):
        began = time.perf_counter()
        rows.append(run_contender(args, contender.strip()))
        print(f"  {_label(contender)}: done in {time.perf_counter() - began:.0f} s", flush=True)
    print(table(rows))
    print()
    print(targets(rows))
    if args.json:
        config = {k: v for k, v in vars(args).items() if k != "json"}
        args.json.write_text(json.dumps({"config": config, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
