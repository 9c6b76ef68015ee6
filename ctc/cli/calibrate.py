"""Measure this machine into a device profile for `ctc simulate --device FILE` and
`bucket(auto, device=FILE)`. Each quantity the cost model reads is timed alone, never a training
step: matmul rates for the matmul shapes of the IR files given with --shapes (a default set
otherwise), attention forward and backward, memory-bound kernels, the per-kernel and per-view
overhead, and on the CPU gloo collectives (latency, per-step latency, bandwidth and the time to
issue one) on every group size a mesh over --ranks processes can have.

On the CPU the ranks share the cores, as training's do: calibrate with the process count the
profile will be used with (--ranks 4 for a 4-rank mesh). --device cuda times the compute kernels
on this machine's GPU with torch alone (the links keep the h100 profile's numbers).

Progress goes to stderr; the profile (JSON) to -o FILE or stdout; --json prints one object with
the profile and every measurement instead.

Example:
  ctc capture --model llama3 --mesh dp_shard=2,tp=2 --seq-len 64 --batch 1 -o step.ctc
  ctc calibrate --ranks 4 --shapes step.ctc -o cpu4.json
  ctc simulate step.ctc --device cpu4.json
  ctc opt step.ctc --passes 'bucket(auto, device="cpu4.json")' | ctc simulate - --device cpu4.json
"""

from __future__ import annotations

import argparse
import json
import sys

from ctc.cli.values import MAX_RANKS, number, whole_number
from ctc.errors import CtcError
from ctc.files import check_output, read_text, write_output
from ctc.ir import parse_module
from ctc.launch import DEFAULT_RANK_TIMEOUT_S


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"), help="what to measure")
    parser.add_argument(
        "--ranks",
        type=whole_number(1, MAX_RANKS),
        default=1,
        help="processes sharing the machine, as in training (cpu only)",
    )
    parser.add_argument(
        "--shapes",
        nargs="+",
        metavar="FILE",
        help="IR files (from ctc capture) whose matmul, attention and memory-bound kernel shapes "
        "to time (default: a built-in set)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few kernels, short samples: a smoke test, not a profile to trust",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the profile here (default: stdout)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object: the profile and every sample"
    )
    parser.add_argument(
        "--rank-timeout",
        type=number(0.0, 1e7, low_inclusive=False),
        default=DEFAULT_RANK_TIMEOUT_S,
        metavar="SECONDS",
        help="stop every rank when one writes nothing and returns nothing for this long",
    )


def _workload(args: argparse.Namespace) -> object:
    from ctc.calibrate.shapes import DEFAULT, QUICK, quick_subset, workload_of

    if not args.shapes:
        return QUICK if args.quick else DEFAULT
    modules = []
    for path in args.shapes:
        text, name = read_text(path, "an IR file")
        modules.append(parse_module(text, name))
    workload = workload_of(modules)
    if not workload.matmuls:
        raise CtcError(f"no matmuls with static shapes in {', '.join(args.shapes)}")
    return quick_subset(workload) if args.quick else workload


def run(args: argparse.Namespace) -> int:
    if args.device == "cuda" and args.ranks != 1:
        raise CtcError("--device cuda measures one GPU's compute; --ranks applies to the cpu only")
    check_output(args.output)
    workload = _workload(args)
    from ctc.calibrate.run import Request, calibrate

    request = Request(args.device, args.ranks, workload, args.quick)  # type: ignore[arg-type]
    print(
        f"ctc calibrate: {args.device}, {args.ranks} process(es); {workload.describe()}",  # type: ignore[attr-defined]
        file=sys.stderr,
        flush=True,
    )
    result = calibrate(request, args.rank_timeout)
    profile = result.profile
    text = json.dumps(profile.to_dict(), indent=1) + "\n"
    _say_fit(result)
    if args.output is not None:
        write_output(args.output, text)
        print(f"ctc calibrate: wrote {args.output}", file=sys.stderr)
    if args.json:
        print(json.dumps({"profile": profile.to_dict(), "measurements": result.summary()}))
    elif args.output is None:
        write_output(None, text)
    return 0


def _say_fit(result: object) -> None:
    profile = result.profile  # type: ignore[attr-defined]
    lines = [
        f"kernel overhead {profile.kernel_overhead * 1e6:.1f} us, "
        f"view {profile.view_overhead * 1e6:.1f} us",
        f"memory-bound {profile.memory_bandwidth / 1e9:.2f} GB/s; matmul peaks "
        f"f32 {profile.flops_f32 / 1e9:.1f}, bf16 {profile.flops_bf16 / 1e9:.1f} GFLOP/s "
        f"({len(profile.matmul_rates)} shapes)",
    ]
    if profile.attention_rate is not None and profile.attention_backward_rate is not None:
        lines.append(
            f"attention forward {profile.attention_rate / 1e9:.2f}, backward "
            f"{profile.attention_backward_rate / 1e9:.2f} GFLOP/s"
        )
    link = result.link  # type: ignore[attr-defined]
    if link is not None:
        lines.append(
            f"gloo: latency {link.latency * 1e6:.0f} us + {link.hop_latency * 1e6:.0f} us per "
            f"step, {link.bandwidth / 1e9:.2f} GB/s, issue "
            f"{profile.collective_issue_overhead * 1e6:.0f} us (worst fit error "
            f"{link.worst_error:.0%})"
        )
    for line in lines:
        print(f"ctc calibrate: {line}", file=sys.stderr)
