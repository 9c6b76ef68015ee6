"""One regime of the peers bench: capture the joint graph once, give it to every contender, and
simulate each result with the same cost model.

Run as ``python bench/peers_run.py REGIME_KEY [--quick] --out FILE.json`` (``peers.py`` does, one
process per regime: each regime needs a fake process group of its own world size).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
from peers_regimes import Regime, regime_by_key

CONTENDERS = (
    ("none", "no reordering"),
    ("torch-auto", "torch schedule_overlap_bucketing"),
    ("torch-block", "torch manual_overlap_bucketing"),
    ("ctc-block", "ctc bucket(block)"),
    ("ctc-auto", "ctc bucket(auto)"),
    ("ctc-tp-auto", "ctc tp_overlap + bucket(auto)"),
)
# Contenders that only apply to some regimes: key -> (whether it applies, why not otherwise).
APPLIES = {"ctc-tp-auto": (lambda regime: "tp=" in regime.mesh, "no tensor parallelism")}


def say(message: str) -> None:
    print(f"peers: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def trimmed_layers(layers: int | None) -> Iterator[None]:
    """Builds models with their first ``layers`` transformer blocks only (None: all)."""
    if layers is None:
        yield
        return
    import ctc.models.torchtitan as torchtitan

    original = torchtitan.graph_trainer_config

    def trimmed(flavor: Any) -> Any:
        config = original(flavor)
        model = config.model_spec.model
        model.layers = model.layers[:layers]
        return config

    torchtitan.graph_trainer_config = trimmed
    try:
        yield
    finally:
        torchtitan.graph_trainer_config = original


def report_json(report: Any) -> dict[str, Any]:
    """The simulator's report without the function name and per-stream times."""
    return {k: v for k, v in report.to_json().items() if k not in ("function", "streams")}


def exposed_by_group(func: Any, cost_model: Any) -> dict[str, float]:
    """Milliseconds the compute stream waits on each (process group, phase), e.g. ``tp fwd``:
    the simulator's timeline (``ctc.schedule.simulate``) with each stall charged to the
    collective waited on; ``tail``: communication after the last compute."""
    from ctc.ir.ops import CollectiveOp, WaitOp
    from ctc.schedule.graph import flatten, stream_of

    now = 0.0
    free: dict[str, float] = {}
    done: dict[str, tuple[float, Any]] = {}
    charged: dict[str, float] = {}
    for op in flatten(func).ops:
        duration = cost_model.op_time(op)
        if isinstance(op, CollectiveOp):
            start = max(now, free.get(stream_of(op), 0.0))
            free[stream_of(op)] = start + duration
            done[op.results[0].name] = (start + duration, op)
        elif isinstance(op, WaitOp):
            for value in op.operand_values():
                ready, collective = done.get(value.name, (0.0, None))
                if collective is not None and ready > now:
                    key = f"{collective.group_key} {collective.loc.phase or '?'}"
                    charged[key] = charged.get(key, 0.0) + (ready - now) * 1e3
                    now = ready
        else:
            now += duration
    tail = max([now, *free.values()]) - now
    if tail > 0:
        charged["tail"] = tail * 1e3
    return dict(sorted(charged.items()))


def sized_by(regime: Regime) -> Callable[[Any], Any]:
    """Makes expert-parallel token counts concrete as ctc sizes them for its cost model
    (``ctc.ir.symbols``: balanced routing, read from each module's all-to-alls); the identity
    otherwise. The regime's ``symbol_size`` (batch x seq x top_k / ep) must agree."""
    if regime.symbol_size is None:
        return lambda module: module
    from ctc.ir.symbols import routed_symbol_sizes, with_sizes

    def sized(module: Any) -> Any:
        sizes = routed_symbol_sizes(module)
        disagree = {name: size for name, size in sizes.items() if size != regime.symbol_size}
        if disagree:
            say(f"warning: routed sizes {disagree} differ from the regime's {regime.symbol_size}")
        return with_sizes(module, sizes)

    return sized


def run_regime(regime: Regime, save_ir: Path | None = None) -> dict[str, Any]:
    import peers_torch

    from ctc.frontend_fx import export_joint, lift_captured
    from ctc.frontend_fx.meta import seq_base
    from ctc.models.torchtitan import build_step
    from ctc.schedule.cost import CostModel
    from ctc.schedule.passes.bucket import BucketPass
    from ctc.schedule.passes.tp_overlap import TpOverlapPass
    from ctc.schedule.profile import load_profile
    from ctc.schedule.simulate import simulate_function

    result: dict[str, Any] = {"regime": attrs.asdict(regime), "contenders": {}}
    start = time.perf_counter()
    with trimmed_layers(regime.layers):
        step = build_step(
            regime.model,
            regime.flavor,
            regime.mesh,
            batch=regime.batch,
            seq_len=regime.seq_len,
            fake=True,
            progress=say,
        )
    result["build_s"] = time.perf_counter() - start
    profile = attrs.evolve(load_profile(regime.device), gpus_per_node=regime.gpus_per_node)
    peers_torch.patch_torch_for_cpu()
    with export_joint(step.module, step.args, step.kwargs, tracer="direct") as captured:
        gm = captured.graph_module
        result["capture_s"] = captured.seconds
        result["nodes"] = len(gm.graph.nodes)
        say(f"{regime.key}: captured {result['nodes']} nodes in {captured.seconds:.1f} s")
        start = time.perf_counter()
        module = lift_captured(captured, step.layout, ("joint",))
        result["lift_s"] = time.perf_counter() - start
        sized = sized_by(regime)
        module = sized(module)
        cost_model = CostModel(profile, module.mesh)
        base = seq_base(gm)
        outputs: dict[str, Callable[[], tuple[Any, float]]] = {}

        def ctc_pass(mode: str, split_tp: bool = False) -> Callable[[], tuple[Any, float]]:
            def run() -> tuple[Any, float]:
                scheduling = BucketPass(mode, device=regime.device)
                begin = time.perf_counter()
                out = module
                if split_tp:
                    out = TpOverlapPass(chunks=4, device=regime.device).run(out)
                out = scheduling.run(out)
                return out, time.perf_counter() - begin

            return run

        def torch_pass(which: str) -> Callable[[], tuple[Any, float]]:
            def run() -> tuple[Any, float]:
                if which == "auto":
                    bridge = peers_torch.CostBridge(module.functions[0], cost_model)
                    done = peers_torch.run_schedule_overlap(gm, bridge)
                    say(f"  cost bridge: {bridge.calls} calls, {bridge.misses} without a ctc time")
                else:
                    done = peers_torch.run_manual(gm)
                lifted = peers_torch.lift_output(done, step.layout, module.attributes, base)
                return sized(lifted), done.seconds

            return run

        outputs["none"] = lambda: (module, 0.0)
        outputs["torch-auto"] = torch_pass("auto")
        outputs["torch-block"] = torch_pass("block")
        outputs["ctc-block"] = ctc_pass("block")
        outputs["ctc-auto"] = ctc_pass("auto")
        outputs["ctc-tp-auto"] = ctc_pass("auto", split_tp=True)
        for key, _ in CONTENDERS:
            applies, why_not = APPLIES.get(key, (lambda _: True, ""))
            if not applies(regime):
                result["contenders"][key] = {"skipped": why_not}
                continue
            say(f"{regime.key}: {key}")
            try:
                scheduled, seconds = outputs[key]()
                if save_ir is not None:
                    from ctc.ir import print_module

                    save_ir.mkdir(parents=True, exist_ok=True)
                    (save_ir / f"{regime.key}.{key}.ctc").write_text(print_module(scheduled))
                report = simulate_function(scheduled.functions[0], cost_model)
                entry = report_json(report)
                entry["pass_s"] = seconds
                entry["streams"] = dict(report.stream_busy_ms)
                entry["exposed_by"] = exposed_by_group(scheduled.functions[0], cost_model)
            except Exception as error:  # a contender that fails is reported, not fatal
                traceback.print_exc()
                entry = {"error": f"{type(error).__name__}: {error}".splitlines()[0][:300]}
            result["contenders"][key] = entry
    result["lower_bound_ms"] = result["contenders"]["none"].get("lower_bound_ms")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("regime")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", required=True)
    parser.add_argument("--save-ir", type=Path, metavar="DIR", help="write each contender's IR")
    args = parser.parse_args()
    regime = regime_by_key(args.regime, quick=args.quick)
    result = run_regime(regime, args.save_ir)
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
