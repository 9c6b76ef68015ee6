"""Train a model with torchtitan's trainer, its step compiled by ctc: one process per rank (gloo
on the CPU, NCCL with CUDA), launched by ctc itself. Each rank runs torchtitan's configuration
parser and trainer with the same arguments `torchrun -m torchtitan.train` would get (print them
with --torchrun): torchtitan's data loader on ctc's offline corpus and tokenizer (built once and
cached), AdamW and its learning-rate schedule, gradient clipping, checkpointing. The step (model
and loss) is captured once per input shape, lifted to IR, transformed by --passes and compiled.

Everything that can be checked is checked before a process starts (and before torch loads): the
model and flavor, batch and sequence length, the mesh against the model, the pipeline, the
checkpoint folder, and an estimate of the ranks' memory against this machine's. Rank 0 prints a
line per step; a rank that fails, dies, or hangs stops the job with its last output.

Models: llama3 (debugmodel, 1B, 3B, 8B, 70B, 405B) and deepseek_v3 (debugmodel, 16B, 236B, 671B),
each flavor also as FLAVOR_flex_attn (FlexAttention).

Example:
  ctc train --model llama3 --flavor debugmodel_flex_attn --mesh dp_shard=2,tp=4 \\
      --passes transformer_block_bucketing,regional_inductor --steps 8
  ctc train --mesh dp_shard=2 --checkpoint ckpt --steps 6 --stop-after 3   # then resume: drop --stop-after
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

import attrs

from ctc.cli.values import MAX_BATCH, MAX_SEQ_LEN, MAX_STEPS, number, whole_number
from ctc.launch import DEFAULT_RANK_TIMEOUT_S
from ctc.trainer.args import DEFAULT_BATCH, DEFAULT_SEQ_LEN, DEFAULT_STEPS

if TYPE_CHECKING:
    from ctc.trainer.args import TrainSettings

MODELS = ("llama3", "deepseek_v3")


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
        help="the pass pipeline: ctc's (bucket(block),inductor(regions)) or the reference's "
        "names (transformer_block_bucketing,regional_inductor) (default: none)",
    )
    parser.add_argument(
        "--steps",
        type=whole_number(1, MAX_STEPS),
        default=DEFAULT_STEPS,
        help="training steps; the learning-rate schedule spans them",
    )
    parser.add_argument(
        "--batch", type=whole_number(1, MAX_BATCH), default=DEFAULT_BATCH, help="local batch size"
    )
    parser.add_argument(
        "--seq-len",
        type=whole_number(1, MAX_SEQ_LEN),
        default=DEFAULT_SEQ_LEN,
        help="sequence length",
    )
    parser.add_argument(
        "--lr",
        type=number(0.0, 1e6, low_inclusive=False),
        help="AdamW's learning rate (default: the flavor's configuration, 8e-4 for debugmodel)",
    )
    parser.add_argument("--seed", type=whole_number(0, 2**31 - 1), default=0, help="random seed")
    parser.add_argument(
        "--check",
        action="store_true",
        help="run every step eagerly too, on the same weights, and stop at the first difference "
        "(bitwise without inductor, within a tolerance with it; doubles the step time)",
    )
    parser.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="save checkpoints here; resume from it (default: no checkpoints)",
    )
    parser.add_argument(
        "--checkpoint-interval",
        type=whole_number(1, MAX_STEPS),
        metavar="N",
        help="steps between checkpoints (default: --steps, i.e. the last step)",
    )
    parser.add_argument(
        "--stop-after",
        type=whole_number(1, MAX_STEPS),
        metavar="N",
        help="stop after N steps of this run (a checkpointed run resumes where it stopped; "
        "default: run to --steps)",
    )
    parser.add_argument(
        "--ir",
        metavar="FILE",
        help="train from this IR file's @joint, checked against the model (default: capture)",
    )
    parser.add_argument(
        "--dump-ir", metavar="DIR", help="write the IR of every stage here (default: none)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument(
        "--torchrun",
        action="store_true",
        help="print the torchrun + torchtitan command that trains the same, and exit",
    )
    parser.add_argument("--verbose", action="store_true", help="show torchtitan's own log")
    parser.add_argument(
        "--rank-timeout",
        type=number(0.0, 1e7, low_inclusive=False),
        default=DEFAULT_RANK_TIMEOUT_S,
        metavar="SECONDS",
        help="stop every rank when one writes nothing, returns nothing and uses no CPU for "
        "this long (hung, not slow)",
    )


def run(args: argparse.Namespace) -> int:
    from ctc.noise import silence_known_noise
    from ctc.prelaunch import check_train
    from ctc.trainer.args import TrainSettings, torchtitan_args, torchtitan_command
    from ctc.trainer.manifest import check_checkpoint_folder

    silence_known_noise()
    plan = check_train(
        args.model,
        args.flavor,
        args.mesh,
        args.passes,
        args.steps,
        args.batch,
        args.seq_len,
        args.lr,
        args.check,
    )
    settings = TrainSettings(
        model=args.model,
        flavor=args.flavor,
        mesh=str(plan.mesh),
        passes=args.passes,
        steps=args.steps,
        batch=args.batch,
        seq_len=args.seq_len,
        lr=args.lr,
        seed=args.seed,
        check=args.check,
        checkpoint=args.checkpoint,
        checkpoint_interval=args.checkpoint_interval,
        stop_after=args.stop_after or 0,
        ir=args.ir,
        ir_dump=args.dump_ir,
    )
    if args.torchrun:
        print(torchtitan_command(settings))
        return 0
    check_checkpoint_folder(settings)
    print(plan.describe(), file=sys.stderr, flush=True)
    if args.dump_ir:
        print(f"IR of every stage -> {args.dump_ir}/", file=sys.stderr, flush=True)
    summary = _launch(args, settings, torchtitan_args(settings))
    if args.json:
        print(report_json(settings, summary))
    else:
        print(_closing(summary), file=sys.stderr)
    return 0


def _launch(args: argparse.Namespace, settings: Any, argv: list[str]) -> dict[str, Any]:
    from ctc.data import prepare_text_assets
    from ctc.launch import run_on_ranks
    from ctc.trainer.manifest import write_manifest
    from ctc.trainer.registry import TOKENIZER_VOCAB
    from ctc.trainer.run import train_worker

    assets = prepare_text_assets(vocab_size=TOKENIZER_VOCAB)
    print(assets.describe(), file=sys.stderr, flush=True)
    if settings.checkpoint:
        write_manifest(settings)
    results = run_on_ranks(
        train_worker,
        settings.world_size,
        argv,
        args.verbose,
        rank_timeout_s=args.rank_timeout,
        init_process_group=False,
    )
    summary: dict[str, Any] = results[0]
    return summary


def report_json(settings: TrainSettings, summary: dict[str, Any]) -> str:
    """``--json``'s one line: the settings trained with, the world size and rank 0's summary."""
    return json.dumps(
        {"settings": attrs.asdict(settings), "world_size": settings.world_size, **summary}
    )


def _closing(summary: dict[str, Any]) -> str:
    """The closing lines: compile time, step times, collectives, simulated communication."""
    lines = []
    if summary.get("compile_seconds") is not None:
        lines.append(
            f"capture + passes + compile {summary['compile_seconds']:.1f} s; first step "
            f"{summary['first_step_seconds']:.1f} s; mean step after it "
            f"{summary['mean_step_seconds']:.2f} s"
        )
    lines.append(f"{summary.get('collectives_per_step', 0)} collectives per step")
    simulated = summary.get("simulated")
    if simulated:
        lines.append(
            f"simulated on {simulated['device']}: step {simulated['step_ms']:.1f} ms, exposed "
            f"communication {simulated['exposed_comm_ms']:.1f} ms"
        )
    if summary.get("fallbacks"):
        lines.append(f"{summary['fallbacks']} higher-order op(s) ran eagerly (see the warnings)")
    return "\n".join(lines)
