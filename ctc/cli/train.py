"""Train a model end to end through ctc on the CPU with gloo: one process per rank. The step is
captured once, lifted to IR, transformed by the pipeline, compiled from the IR with
aot_compile_joint_with_descriptors, and trained with SGD. With --check (the default) every step's
loss and every gradient are compared with the eager DTensor model, bitwise.

Example:
  ctc train --model llama3 --flavor debugmodel --mesh dp_shard=2,tp=2 --passes "bucket(block)"
  ctc train --model tiny --mesh dp_shard=2,tp=2 --steps 5 --json
"""

from __future__ import annotations

import argparse
import json
import sys

from ctc.errors import CtcError
from ctc.launch import DEFAULT_RANK_TIMEOUT_S, run_on_ranks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="llama3", choices=("llama3", "deepseek_v3", "tiny"))
    parser.add_argument("--flavor", default="debugmodel", help="(default: debugmodel)")
    parser.add_argument("--mesh", default="dp_shard=2,tp=2", help="(default: dp_shard=2,tp=2)")
    parser.add_argument("--passes", default="", metavar="PIPELINE", help="pass pipeline")
    parser.add_argument("--steps", type=int, default=3, help="(default: 3)")
    parser.add_argument("--batch", type=int, help="local batch size (default: the flavor's)")
    parser.add_argument("--seq-len", type=int, help="sequence length (default: the flavor's)")
    parser.add_argument("--lr", type=float, default=1e-3, help="SGD learning rate")
    parser.add_argument("--no-check", action="store_true", help="skip the eager comparison")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--rank-timeout",
        type=float,
        default=DEFAULT_RANK_TIMEOUT_S,
        metavar="SECONDS",
        help="stop every rank when one writes nothing and returns nothing for this long "
        f"(default: {DEFAULT_RANK_TIMEOUT_S:.0f})",
    )


def run(args: argparse.Namespace) -> int:
    from ctc.train import TrainConfig, check_config, train_rank

    config = TrainConfig(
        model=args.model,
        flavor=args.flavor,
        mesh=args.mesh,
        passes=args.passes,
        steps=args.steps,
        batch=args.batch,
        seq_len=args.seq_len,
        lr=args.lr,
        check=not args.no_check,
    )
    world_size = check_config(config)
    print(
        f"training {config.model} {config.flavor} on {config.mesh} ({world_size} gloo processes), "
        f"pipeline: {config.passes or '(none)'}",
        file=sys.stderr,
    )
    results = run_on_ranks(train_rank, world_size, config, rank_timeout_s=args.rank_timeout)
    report = results[0]
    mismatched = [
        (rank, s["step"])
        for rank, result in enumerate(results)
        for s in result["steps"]
        if s["grads_equal"] is False
        or (s["eager_loss"] is not None and s["loss"] != s["eager_loss"])
    ]
    options = {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "command"}
    if args.json:
        print(
            json.dumps(
                {
                    "config": options | {"world_size": world_size},
                    **report,
                    "bitwise_equal": not mismatched if config.check else None,
                }
            )
        )
    else:
        print(
            f"captured {report['captured_ops']} ops; capture+lift+passes+compile "
            f"{report['compile_seconds']:.1f} s; "
            f"{report['stats']['collectives']} collectives per step"
        )
        for s in report["steps"]:
            check = ""
            if s["eager_loss"] is not None:
                same = s["loss"] == s["eager_loss"] and s["grads_equal"]
                check = (
                    f"  | eager {s['eager_loss']:.6f} {s['eager_seconds'] * 1000:.0f} ms  "
                    f"{'bitwise equal' if same else 'DIFFERS'}"
                )
            print(f"step {s['step']}: loss {s['loss']:.6f}  {s['seconds'] * 1000:.0f} ms{check}")
    if mismatched:
        raise CtcError(f"compiled step differs from eager on (rank, step) {mismatched}")
    return 0
