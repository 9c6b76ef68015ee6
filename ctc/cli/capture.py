"""Capture a model's training step (forward + loss + backward) under a fake process group and
print its IR: the joint graph, or the forward and backward graphs of torch's default
partitioner. Parameters are fake tensors, so any flavor captures without its memory.

Models: llama3 (flavors debugmodel, 1B, 3B, 8B, 70B, 405B) and deepseek_v3 (debugmodel, 16B,
236B, 671B) from torchtitan; a flavor runs SDPA attention, FLAVOR_flex_attn FlexAttention.
tiny is a two-block TP+FSDP MLP (mesh dimensions dp_shard and tp only).
The mesh names degrees: dp_replicate, dp_shard, tp, ep (ep borrows ranks from dp_shard x tp).

Example:
  ctc capture --model llama3 --flavor debugmodel --mesh dp_shard=2,tp=4 -o step.ctc
  ctc capture --model deepseek_v3 --mesh dp_shard=2,tp=2,ep=2 --stage fwd,bwd | ctc verify -
  ctc capture --model llama3 --mesh dp_shard=8 --stage fwd,bwd --passes reshard_after_forward \
      | ctc simulate -
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

from ctc.cli.values import MAX_BATCH, MAX_RANKS, MAX_SEQ_LEN, whole_number
from ctc.errors import CtcError
from ctc.files import check_output, write_output
from ctc.models.mesh import MeshSpec
from ctc.prelaunch import check_capture

MODELS = ("llama3", "deepseek_v3", "tiny")
DTYPES = ("float32", "bfloat16", "float16")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, choices=MODELS, help="the model to capture")
    parser.add_argument(
        "--flavor", default="debugmodel", help="model flavor, e.g. 8B or debugmodel_flex_attn"
    )
    parser.add_argument(
        "--mesh", required=True, metavar="SPEC", help="parallelism degrees, e.g. dp_shard=2,tp=4"
    )
    parser.add_argument(
        "--stage",
        default="joint",
        metavar="STAGES",
        help="joint, fwd, bwd, or a comma-separated list such as fwd,bwd (default: joint)",
    )
    parser.add_argument(
        "--batch", type=whole_number(1, MAX_BATCH), help="local batch size (default: the flavor's)"
    )
    parser.add_argument(
        "--seq-len",
        type=whole_number(1, MAX_SEQ_LEN),
        help="sequence length (default: the flavor's)",
    )
    parser.add_argument(
        "--world-size",
        type=whole_number(1, MAX_RANKS),
        help="refuse a mesh that does not span this many ranks (default: the mesh's own size)",
    )
    parser.add_argument(
        "--tracer",
        default="direct",
        choices=("direct", "dynamo"),
        help="direct: AOT export of the module (4-5x faster); dynamo: torch.compile's graph "
        "capture first, then AOT export (the reference system's way)",
    )
    for name, what in (
        ("param", "parameters are all-gathered and computed in"),
        ("reduce", "gradients are reduced in"),
    ):
        parser.add_argument(
            f"--{name}-dtype",
            choices=DTYPES,
            help=f"mixed precision: the dtype {what} (default: the flavor's)",
        )
    parser.add_argument(
        "--passes",
        default="",
        metavar="PIPELINE",
        help="run these passes as training would: joint ones before the step is split into fwd "
        "and bwd (e.g. reshard_after_forward), the others on their stages (default: none)",
    )
    parser.add_argument(
        "--decompositions",
        choices=("default", "inductor"),
        default="default",
        help="the export's decomposition table: inductor's is what inductor(all) needs "
        "(default: torch's; a pipeline with inductor(all) implies inductor)",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the IR here (default: stdout)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    plan = check_capture(
        args.model, args.flavor, args.mesh, args.stage, args.batch, args.seq_len, args.world_size
    )
    if args.model == "tiny" and args.reduce_dtype:
        raise CtcError(
            "the tiny model reduces gradients in its parameters' dtype: no --reduce-dtype"
        )
    check_output(args.output)
    pipeline = _pipeline(args.passes, plan.stages)

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"ctc capture: {message}", file=sys.stderr, flush=True)

    # Noise from running the model on fake CPU tensors, about nothing the capture keeps.
    warnings.filterwarnings("ignore", message="flex_attention called without torch.compile")
    start = time.perf_counter()
    built = _build(args, plan.mesh, progress)
    module, layout, step_args, step_kwargs = built.module, built.layout, built.args, built.kwargs
    progress(f"built in {time.perf_counter() - start:.1f} s; capturing ({args.tracer} tracer)")

    from ctc.api import lift_with_passes, needs_inductor_decompositions
    from ctc.frontend_fx import export_joint, lift_captured
    from ctc.ir import print_module

    start = time.perf_counter()
    decompositions = "inductor" if args.decompositions == "inductor" else None
    if pipeline is not None and needs_inductor_decompositions(pipeline):
        decompositions = "inductor"
    with export_joint(
        module,
        step_args,
        step_kwargs,
        tracer=args.tracer,
        module_paths=args.model == "tiny",
        decompositions=decompositions,
    ) as captured:
        nodes = len(captured.graph_module.graph.nodes)
        progress(f"captured {nodes} nodes in {captured.seconds:.1f} s; lifting {args.stage}")
        if pipeline is None:
            ir = lift_captured(captured, layout, plan.stages)
        else:
            progress(f"running {pipeline}")
            ir = lift_with_passes(captured, layout, plan.stages, pipeline)
    progress(f"done in {time.perf_counter() - start:.1f} s")
    write_output(args.output, print_module(ir))
    return 0


def _pipeline(text: str, stages: tuple[str, ...]) -> Any:
    """The --passes pipeline, checked (torch-free) against the stages the capture produces."""
    if not text:
        return None
    from ctc.dsl import parse_pipeline
    from ctc.passes.stages import plan_stages

    pipeline = parse_pipeline(text, device="cpu")
    available = ("joint", *[stage for stage in stages if stage != "joint"])
    plan_stages(pipeline, available, running="this capture makes")
    return pipeline


def _build(args: argparse.Namespace, spec: MeshSpec, progress: Callable[[str], None]) -> Any:
    """The step to capture (``ctc.models.step.BuiltStep``), its parameters fake tensors."""
    from ctc.models.step import build_step

    return build_step(
        args.model,
        args.flavor,
        spec,
        batch=args.batch,
        seq_len=args.seq_len,
        fake=True,
        param_dtype=args.param_dtype,
        reduce_dtype=args.reduce_dtype,
        progress=progress,
    )
