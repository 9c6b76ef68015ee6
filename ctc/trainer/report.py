"""What a compiled training step is, in numbers: compile time, collectives, simulated comm."""

from __future__ import annotations

from typing import Any

from ctc.errors import CtcError


def compiled_step_summary(compiled: Any, device: str = "cpu") -> dict[str, Any]:
    """For the step ``compiled`` (a ``CompiledModule``) built last: seconds to capture, pass and
    compile it, its collectives per step (in ``@fwd`` and ``@bwd``), and the simulator's step
    and exposed communication on ``device``'s profile (None, with the reason, when the IR has
    sizes the simulator cannot resolve)."""
    from ctc.ir.core import Module, walk_ops
    from ctc.ir.ops import CollectiveOp
    from ctc.schedule.cost import CostModel
    from ctc.schedule.profile import load_profile
    from ctc.schedule.simulate import simulate_module

    if not compiled.compiled:
        return {}
    step = list(compiled.compiled.values())[-1]
    stages = [step.report.modules[s] for s in ("fwd", "bwd") if s in step.report.modules]
    functions = tuple(module.functions[0] for module in stages)
    collectives = sum(
        isinstance(op, CollectiveOp) for func in functions for op in walk_ops(func.ops)
    )
    summary: dict[str, Any] = {
        "compile_seconds": step.seconds,
        "collectives_per_step": collectives,
        "fallbacks": sum(len(f) for f in step.report.fallbacks.values()),
    }
    if not stages:
        return summary
    module = Module(functions, stages[0].attributes)
    try:
        reports = simulate_module(module, CostModel(load_profile(device), module.mesh))
    except (CtcError, ValueError, TypeError) as error:
        summary["simulated"] = None
        summary["simulated_reason"] = str(error)
        return summary
    summary["simulated"] = {
        "device": device,
        "step_ms": sum(r.step_ms for r in reports),
        "exposed_comm_ms": sum(r.exposed_comm_ms for r in reports),
    }
    return summary
