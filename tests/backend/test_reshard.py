"""reshard_after_forward: the partitioned forward saves no gathered parameter, the backward
gathers again, and the simulator shows the lower peak (captures under the fake process group)."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from typing import Any

import pytest

from ctc.ir.core import Func, Module, walk_ops
from ctc.ir.ops import AllGatherOp
from ctc.passes.reshard import fsdp_gather_chains


def _saved_names(forward: Func) -> set[str]:
    returned = forward.ops[-1]
    return {
        value.name
        for value, attributes in zip(returned.operands, forward.result_attrs, strict=True)
        if attributes.get("saved") is not None and hasattr(value, "name")
    }


def _gathers(func: Func) -> int:
    return sum(isinstance(op, AllGatherOp) for op in walk_ops(func.ops))


def _capture(step: Any, inputs: Any, mesh: Any, pipeline: str) -> Module:
    import ctc

    return ctc.capture(step, inputs, mesh=mesh, stage="joint,fwd,bwd", pipeline=pipeline)


def test_the_forward_saves_no_gathered_parameter(tiny_mesh: Any) -> None:
    from ctc.models.tiny import build_tiny, tiny_inputs

    plain = _capture(build_tiny(tiny_mesh), tiny_inputs(), tiny_mesh, "dce")
    resharded = _capture(build_tiny(tiny_mesh), tiny_inputs(), tiny_mesh, "reshard_after_forward")
    chains = set().union(*fsdp_gather_chains(plain.function("joint")))
    assert chains, "the tiny step has FSDP gathers"
    assert _saved_names(plain.function("fwd")) & chains  # without the pass, gathered weights
    assert not _saved_names(resharded.function("fwd")) & chains
    assert _gathers(plain.function("bwd")) == 0
    # Gathered again where the backward needs them (not the first weight: no input gradient).
    assert 0 < _gathers(resharded.function("bwd")) <= _gathers(resharded.function("fwd"))


@pytest.mark.slow
def test_the_simulated_peak_drops_for_llama3() -> None:
    # In a process of its own: the llama3 mesh needs a fake process group of another size.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        peaks = pool.submit(simulated_peaks).result()
    assert peaks["reshard_after_forward"] < 0.95 * peaks["dce"], peaks


def simulated_peaks() -> dict[str, int]:
    """The simulated peak of llama3 debugmodel's fwd and bwd with and without the pass."""
    from ctc.models.torchtitan import build_step
    from ctc.schedule.cost import CostModel
    from ctc.schedule.profile import load_profile
    from ctc.schedule.simulate import simulate_module

    peaks = {}
    for pipeline in ("dce", "reshard_after_forward"):
        built = build_step("llama3", "debugmodel", "dp_shard=8", batch=1, seq_len=256, fake=True)
        module = _capture(built.module, built.args, built.layout, pipeline)
        split = Module((module.function("fwd"), module.function("bwd")), module.attributes)
        reports = simulate_module(split, CostModel(load_profile("h100"), split.mesh))
        peaks[pipeline] = max(report.peak_memory_bytes for report in reports)
    return peaks
