"""The cost model against a GPU, op by op (issue 13): one llama3 8B transformer layer's kernels,
timed alone on the GPU with torch, against the calibrated cuda profile and the built-in h100
profile; median and worst error per kind of op.

Two halves, because the GPU machine has torch but not torchtitan:

  export (here, with torchtitan): capture llama3 8B with its first layer only under a fake
      process group, lift it, and write every distinct compute op as a one-op IR module (the op
      and arguments of its operands' types) with its kind and count to a JSON file;
  time (on the GPU, torch alone): lower each one-op module to FX (``ctc.lowering``), time it on
      random inputs (``ctc.calibrate.measure``), calibrate a cuda profile on the same shapes
      (``ctc calibrate --device cuda``, in process) unless --profile names one, and compare.

  .venv/bin/python bench/validate_gpu.py export -o bench/results/llama3_8b_layer_ops.json
  python bench/validate_gpu.py time bench/results/llama3_8b_layer_ops.json --device cuda \\
      -o bench/results/validate_gpu.json

``time --device cpu`` runs the same code on this machine's CPU (a smoke test of the script).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _one_op_module(op: Any, attributes: Any) -> Any:
    """A module whose function takes ``op``'s operands and returns its tensor results."""
    from ctc.ir.core import Block, Func, Module
    from ctc.ir.ops import make_op
    from ctc.ir.types import TensorType

    arguments = list(dict.fromkeys(op.operand_values()))
    results = [r for r in op.results if isinstance(r.type, TensorType)]
    body = Block((op, make_op("ctc.return", results)), tuple(arguments))
    func = Func("joint", body, tuple(r.type for r in results))
    return Module((func,), attributes)


def _exportable(op: Any) -> bool:
    from ctc.ir.ops import CollectiveOp, RegionOp, ReturnOp, WaitOp
    from ctc.schedule.opinfo import is_allocation, is_view
    from ctc.schedule.tp_sites import static_shape

    if isinstance(op, CollectiveOp | WaitOp | RegionOp | ReturnOp) or op.regions:
        return False
    if is_view(op) or is_allocation(op) or not op.results:
        return False
    values = [*op.operand_values(), *op.results]
    return all(static_shape(v) is not None for v in values)


def export(args: argparse.Namespace) -> int:
    from peers_run import trimmed_layers
    from validate_report import op_kind

    from ctc.frontend_fx import export_joint, lift_captured
    from ctc.ir import print_module
    from ctc.models.torchtitan import build_step
    from ctc.schedule.cost import CostModel
    from ctc.schedule.graph import flatten
    from ctc.schedule.profile import PROFILES

    with trimmed_layers(args.layers):
        step = build_step(
            "llama3", args.flavor, args.mesh, batch=1, seq_len=args.seq_len, fake=True
        )
    with export_joint(step.module, step.args, step.kwargs, tracer="direct") as captured:
        module = lift_captured(captured, step.layout, ("joint",))
    h100 = CostModel(PROFILES["h100"], module.mesh)
    found: dict[str, dict[str, Any]] = {}
    for op in flatten(module.functions[0]).ops:
        if not _exportable(op):
            continue
        text = print_module(_one_op_module(op.replace(loc=type(op.loc)()), module.attributes))
        entry = found.setdefault(
            text,
            {"ir": text, "name": op.name, "kind": op_kind(op.name), "count": 0,
             "h100_ms": h100.op_time(op) * 1e3},
        )  # fmt: skip
        entry["count"] += 1
    source = f"llama3 {args.flavor}, first {args.layers} layer(s), seq {args.seq_len}, {args.mesh}"
    Path(args.output).write_text(json.dumps({"source": source, "ops": list(found.values())}))
    print(f"wrote {len(found)} distinct ops of {source} to {args.output}", file=sys.stderr)
    return 0


def _inputs(func: Any, device: str) -> list[Any]:
    import torch

    from ctc.torch_types import DTYPE_TO_TORCH

    inputs = []
    for arg in func.args:
        value_type = arg.type
        dtype = DTYPE_TO_TORCH[value_type.dtype]
        shape = tuple(value_type.shape)
        strides = value_type.strides or None
        tensor = (
            torch.empty_strided(shape, strides, dtype=dtype, device=device)
            if strides is not None
            else torch.empty(shape, dtype=dtype, device=device)
        )
        if dtype.is_floating_point or dtype.is_complex:
            tensor.copy_(torch.randn(tensor.shape, device=device).to(dtype))
        else:
            tensor.zero_()  # valid indices for every gather, embedding and index op
        inputs.append(tensor)
    return inputs


def time_ops(args: argparse.Namespace) -> int:
    from ctc.calibrate.measure import Settings, Timer
    from ctc.ir import parse_module
    from ctc.lowering import lower_function
    from ctc.schedule.cost import CostModel
    from ctc.schedule.profile import PROFILES, load_profile

    data = json.loads(Path(args.ops).read_text())
    entries = data["ops"][: args.limit] if args.limit else data["ops"]
    modules = [parse_module(entry["ir"], f"<op {i}>") for i, entry in enumerate(entries)]
    profile = load_profile(args.profile) if args.profile else _calibrate(modules, args.device)
    timer = Timer(args.device, Settings())
    rows = []
    for entry, module in zip(entries, modules, strict=True):
        func = module.functions[0]
        lowered = lower_function(func)
        inputs = _inputs(func, args.device)
        seconds = timer.seconds(lambda lowered=lowered, inputs=inputs: lowered(*inputs))
        op = func.ops[0]
        predicted = CostModel(profile, module.mesh).op_time(op) * 1e3
        rows.append({**entry, "measured_ms": seconds * 1e3, "calibrated_ms": predicted})
        print(
            f"{entry['name']}: {seconds * 1e3:.4f} ms; h100 {entry['h100_ms']:.4f}, "
            f"{profile.name} {predicted:.4f}",
            file=sys.stderr,
        )
    summary = summarize(rows, profile.name)
    Path(args.output).write_text(json.dumps({"source": data["source"], "device": args.device,
                                             "profile": profile.to_dict(), "ops": rows,
                                             "summary": summary}, indent=1))  # fmt: skip
    print(markdown(summary, data["source"], profile.name, PROFILES["h100"].name))
    return 0


def _calibrate(modules: list[Any], device: str) -> Any:
    from ctc.calibrate.run import Request, calibrate
    from ctc.calibrate.shapes import workload_of

    request = Request(device, 1, workload_of(modules))
    return calibrate(request, rank_timeout_s=3600).profile


def summarize(rows: list[dict[str, Any]], profile_name: str) -> dict[str, dict[str, float]]:
    """Per kind: ops, measured ms (count-weighted), and the median and worst relative error of
    each profile's prediction."""
    summary: dict[str, dict[str, float]] = {}
    for kind in sorted({row["kind"] for row in rows}):
        chosen = [row for row in rows if row["kind"] == kind]
        entry: dict[str, float] = {
            "ops": len(chosen),
            "measured_ms": sum(r["measured_ms"] * r["count"] for r in chosen),
        }
        for key, name in (("h100_ms", "h100"), ("calibrated_ms", profile_name)):
            errors = [(r[key] - r["measured_ms"]) / r["measured_ms"] for r in chosen]
            entry[f"{name} median error"] = statistics.median(errors)
            entry[f"{name} worst error"] = max(errors, key=abs)
        summary[kind] = entry
    return summary


def markdown(summary: dict[str, dict[str, float]], source: str, calibrated: str, h100: str) -> str:
    lines = [
        f"**Kernels of {source}, timed alone**",
        "",
        f"| kind | ops | measured ms | {h100} median | {h100} worst | {calibrated} median | "
        f"{calibrated} worst |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, entry in summary.items():
        lines.append(
            f"| {kind} | {entry['ops']:.0f} | {entry['measured_ms']:.3f} | "
            f"{entry[f'{h100} median error']:+.0%} | {entry[f'{h100} worst error']:+.0%} | "
            f"{entry[f'{calibrated} median error']:+.0%} | {entry[f'{calibrated} worst error']:+.0%} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    out = commands.add_parser("export", help="capture a layer's ops (needs torchtitan)")
    out.add_argument("-o", "--output", required=True)
    out.add_argument("--flavor", default="8B")
    out.add_argument("--mesh", default="dp_shard=8")
    out.add_argument("--seq-len", type=int, default=8192)
    out.add_argument("--layers", type=int, default=1)
    timing = commands.add_parser("time", help="time the ops on a device (torch alone)")
    timing.add_argument("ops")
    timing.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    timing.add_argument("--profile", help="a profile to compare (default: calibrate one here)")
    timing.add_argument("--limit", type=int, help="only the first N ops (a smoke test)")
    timing.add_argument("-o", "--output", default=str(HERE / "results" / "validate_gpu.json"))
    args = parser.parse_args()
    return export(args) if args.command == "export" else time_ops(args)


if __name__ == "__main__":
    sys.exit(main())
