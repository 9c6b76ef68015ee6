"""Train a model end to end through ctc on the CPU with gloo: one process per rank. The step is
captured once, lifted to IR, transformed by the pipeline, compiled from the IR with
aot_compile_joint_with_descriptors, and trained with SGD. Every step's loss and every gradient
are compared with the eager DTensor model, bitwise (--no-check skips that and the eager copy).

Everything that can be checked is checked before a process starts (and before torch loads): the
model and flavor, batch and sequence length, whether the mesh splits the model, the pipeline, and
an estimate of the ranks' memory against this machine's. Rank 0's output shows on stderr; a rank
that fails, dies, or hangs (no output and no CPU for --rank-timeout seconds) stops the job, with
its last output.

Models: llama3 (debugmodel, 1B, 3B, 8B, 70B, 405B) and deepseek_v3 (debugmodel, 16B, 236B, 671B),
each flavor also as FLAVOR_flex_attn (FlexAttention); tiny, a two-block TP+FSDP MLP.

Example:
  ctc train --model llama3 --flavor debugmodel --mesh dp_shard=2,tp=2 --passes "bucket(block)" \
      --seq-len 64 --batch 1
  ctc train --model tiny --mesh dp_shard=2,tp=2 --steps 5 --json
"""

from __future__ import annotations

import argparse
import json
import sys

from ctc.cli.values import MAX_BATCH, MAX_SEQ_LEN, MAX_STEPS, number, whole_number
from ctc.errors import CtcError
from ctc.launch import DEFAULT_RANK_TIMEOUT_S, run_on_ranks
from ctc.prelaunch import check_train

MODELS = ("llama3", "deepseek_v3", "tiny")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="llama3", choices=MODELS, help="the model to train")
    parser.add_argument(
        "--flavor", default="debugmodel", help="model flavor, e.g. 8B or debugmodel_flex_attn"
    )
    parser.add_argument(
        "--mesh",
        default="dp_shard=2,tp=2",
        metavar="SPEC",
        help="parallelism degrees (dp_replicate, dp_shard, tp, ep); a process per rank of "
        "dp_replicate x dp_shard x tp (ep borrows its ranks from dp_shard x tp)",
    )
    parser.add_argument(
        "--passes",
        default="",
        metavar="PIPELINE",
        help='the pass pipeline, e.g. "bucket(block)" or transformer_block_bucketing '
        "(default: none)",
    )
    parser.add_argument(
        "--steps", type=whole_number(1, MAX_STEPS), default=3, help="training steps"
    )
    parser.add_argument(
        "--batch",
        type=whole_number(1, MAX_BATCH),
        help="local batch size (default: the flavor's)",
    )
    parser.add_argument(
        "--seq-len",
        type=whole_number(1, MAX_SEQ_LEN),
        help="sequence length (default: the flavor's)",
    )
    parser.add_argument("--lr", type=number(0.0, 1e6), default=1e-3, help="the SGD learning rate")
    parser.add_argument(
        "--no-check",
        action="store_true",
        help="skip the bitwise comparison with the eager model (and its copy's memory)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument(
        "--rank-timeout",
        type=number(0.0, 1e7, low_inclusive=False),
        default=DEFAULT_RANK_TIMEOUT_S,
        metavar="SECONDS",
        help="stop every rank when one writes nothing, returns nothing and uses no CPU for "
        "this long (hung, not slow)",
    )


def run(args: argparse.Namespace) -> int:
    plan = check_train(
        args.model,
        args.flavor,
        args.mesh,
        args.passes,
        args.steps,
        args.batch,
        args.seq_len,
        args.lr,
        not args.no_check,
    )
    print(plan.describe(), file=sys.stderr, flush=True)
    from ctc.train import TrainConfig, train_rank

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
    world_size = plan.world_size
    results = run_on_ranks(train_rank, world_size, config, rank_timeout_s=args.rank_timeout)
    report = results[0]
    mismatched = [
        (rank, s["step"])
        for rank, result in enumerate(results)
        for s in result["steps"]
        if s["grads_equal"] is False
        or (s["exact"] and s["eager_loss"] is not None and s["loss"] != s["eager_loss"])
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
                same = s["grads_equal"] and (not s["exact"] or s["loss"] == s["eager_loss"])
                verdict = (
                    "bitwise equal" if s["exact"] else f"close (max diff {s['max_difference']:.2e})"
                )
                check = (
                    f"  | eager {s['eager_loss']:.6f} {s['eager_seconds'] * 1000:.0f} ms  "
                    f"{verdict if same else 'DIFFERS'}"
                )
            print(f"step {s['step']}: loss {s['loss']:.6f}  {s['seconds'] * 1000:.0f} ms{check}")
    if mismatched:
        raise CtcError(f"compiled step differs from eager on (rank, step) {mismatched}")
    return 0
