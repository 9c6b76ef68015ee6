"""Simulate one training step of an IR file: step time, compute, communication, exposed
communication, peak memory, and a lower bound, from a device's cost model.

Streams: one for compute, one FIFO per process group (split by a collective's ``stream``
attribute). A group whose ranks span nodes (``--gpus-per-node``, mesh laid out row-major) uses
the inter-node link. ``--device`` is a built-in profile (h100: 8-GPU NVLink nodes over
InfiniBand; h100-ib: one GPU per node, every group over InfiniBand; cpu: gloo on this machine) or
a profile .json file (a ``base`` profile and the fields it overrides).

Example:
  ctc simulate examples/two_block_fsdp.ctc --device h100
  ctc simulate step.ctc --device h100 --gpus-per-node 8 --trace step.trace.json --json
  ctc opt step.ctc --passes "bucket(block)" | ctc simulate - --device cpu
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time

import attrs

from ctc.cli.progress import LARGE_OPS, Progress, op_count
from ctc.cli.values import MAX_RANKS, number, whole_number
from ctc.errors import CtcError
from ctc.files import check_output, read_text, write_output
from ctc.ir import parse_module
from ctc.ir.symbols import routed_symbol_sizes, with_sizes
from ctc.schedule.cost import CostModel
from ctc.schedule.profile import PROFILES, load_profile
from ctc.schedule.simulate import SimulationReport, simulate_module, trace_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="an IR text file, or - for stdin")
    parser.add_argument(
        "--device",
        default="h100",
        help=f"device profile: {', '.join(PROFILES)}, or a profile .json file (default: h100)",
    )
    parser.add_argument(
        "--gpus-per-node",
        type=whole_number(1, MAX_RANKS),
        default=None,
        metavar="N",
        help="ranks per node (default: the profile's; 8 for h100)",
    )
    parser.add_argument(
        "--routing-skew",
        type=number(0, 1000, low_inclusive=False),
        default=1.0,
        metavar="F",
        help="expert-parallel token counts (unbacked sizes) as balanced routing gives them, "
        "times F: 1.5 is the busiest rank of an unbalanced router (default: 1.0, balanced)",
    )
    parser.add_argument(
        "--trace", metavar="OUT.json", help="write a Chrome/Perfetto trace here (default: none)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help=f"no progress lines on stderr (shown for IR of {LARGE_OPS} ops or more)",
    )


def run(args: argparse.Namespace) -> int:
    profile = load_profile(args.device)
    if args.gpus_per_node is not None:
        profile = attrs.evolve(profile, gpus_per_node=args.gpus_per_node)
    check_output(args.trace)
    text, name = read_text(args.file, "an IR file")
    start = time.perf_counter()
    module = parse_module(text, name)
    # The IR is immutable and lives as long as the command: out of the cyclic collector's way,
    # whose rescans of it would otherwise cost more the larger the model.
    gc.freeze()
    ops = op_count(module)
    progress = Progress("simulate", not args.quiet and ops >= LARGE_OPS)
    progress.say(f"parsed {name}: {ops} ops in {time.perf_counter() - start:.1f} s")
    if not module.functions:
        raise CtcError(f"{name} has no functions to simulate")
    sizes = routed_symbol_sizes(module, args.routing_skew)
    if sizes:
        module = with_sizes(module, sizes)
    with progress.stage(f"simulating on {profile.name}"):
        reports = simulate_module(module, CostModel(profile, module.mesh))
    memory = _memory_fit(reports, profile.memory_bytes)
    if memory["memory_margin_bytes"] < 0:
        print(f"ctc simulate: {_fit_words(memory)}", file=sys.stderr)
    if args.trace:
        write_output(args.trace, trace_json(reports))
        print(
            f"ctc simulate: wrote the trace to {args.trace} (open it in ui.perfetto.dev)",
            file=sys.stderr,
        )
    if args.json:
        report = {**_json(name, profile.name, reports), **memory, "routed_symbols": len(sizes)}
        print(json.dumps(report, sort_keys=True))
    else:
        _print_report(name, profile.name, reports)
        print(f"  memory: {_fit_words(memory)}")
        if sizes:
            print(
                f"  {len(sizes)} expert-parallel token counts sized for "
                + (
                    "balanced routing"
                    if args.routing_skew == 1
                    else f"routing skew {args.routing_skew:g}"
                )
            )
    return 0


def _memory_fit(reports: list[SimulationReport], device_bytes: int) -> dict[str, int]:
    """The peak per rank against the device's memory (the functions of a step run one at a
    time, so the largest peak counts)."""
    peak = max(r.peak_memory_bytes for r in reports)
    return {
        "device_memory_bytes": device_bytes,
        "memory_margin_bytes": device_bytes - peak,
    }


def _fit_words(memory: dict[str, int]) -> str:
    device, margin = memory["device_memory_bytes"], memory["memory_margin_bytes"]
    peak = device - margin
    if margin >= 0:
        return f"fits: peak {_bytes(peak)} per rank of {_bytes(device)} (margin {_bytes(margin)})"
    return (
        f"does not fit: peak {_bytes(peak)} per rank, the device has {_bytes(device)} "
        f"(over by {_bytes(-margin)})"
    )


def _json(name: str, device: str, reports: list[SimulationReport]) -> dict[str, object]:
    """Totals over the functions (a step runs each once), and each function's own report."""
    total = {
        "step_ms": sum(r.step_ms for r in reports),
        "compute_ms": sum(r.compute_ms for r in reports),
        "comm_ms": sum(r.comm_ms for r in reports),
        "exposed_comm_ms": sum(r.exposed_comm_ms for r in reports),
        "peak_memory_bytes": max(r.peak_memory_bytes for r in reports),
        "collectives": sum(r.collectives for r in reports),
        "lower_bound_ms": sum(r.lower_bound_ms for r in reports),
    }
    return {"file": name, "device": device, **total, "functions": [r.to_json() for r in reports]}


def _print_report(name: str, device: str, reports: list[SimulationReport]) -> None:
    print(f"{name} on {device}:")
    for report in reports:
        print(f"  @{report.function}")
        print(f"    step          {report.step_ms:10.3f} ms")
        print(f"    compute       {report.compute_ms:10.3f} ms")
        print(f"    comm          {report.comm_ms:10.3f} ms   ({report.collectives} collectives)")
        exposed_share = report.exposed_comm_ms / report.step_ms if report.step_ms else 0.0
        print(
            f"    exposed comm  {report.exposed_comm_ms:10.3f} ms   ({exposed_share:.0%} of step)"
        )
        print(
            f"    lower bound   {report.lower_bound_ms:10.3f} ms   "
            f"(critical path {report.critical_path_ms:.3f} ms)"
        )
        print(f"    peak memory   {_bytes(report.peak_memory_bytes):>10}")
        for stream, busy in report.stream_busy_ms:
            print(f"    stream {stream}: {busy:.3f} ms busy")


def _bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{count} B"
        value /= 1024
    return f"{count} B"
