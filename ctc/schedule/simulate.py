"""A discrete-event simulator of one training step: what the program does, timed by a cost model.

Streams: one compute stream, and one FIFO stream per process group (split further by a
collective's ``stream`` attribute). The host walks the program in order: a compute op runs on the
compute stream after the previous one; a collective is issued on the compute stream (taking the
cost model's ``issue_time``: nothing on a GPU, a call into gloo on a CPU) and starts when its
stream is free (its inputs are ready then: they come from earlier
compute or from waited collectives); ``coll.wait`` blocks the compute stream until its collective
ends. The step ends when every stream is idle.

Report (times in ms): ``step_ms``; ``compute_ms`` (busy time of the compute stream); ``comm_ms``
(busy time of all collective streams together); ``exposed_comm_ms`` (step time the compute stream
spends idle: waiting on collectives, including a tail after the last compute);
``peak_memory_bytes`` (``ctc.schedule.memory``); ``collectives``; ``lower_bound_ms`` =
max(critical path over data dependencies, busiest stream) -- what no order of these ops beats.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from ctc.ir.core import Func, Module, Op, Value
from ctc.ir.ops import CollectiveOp, WaitOp
from ctc.schedule.cost import CostModel
from ctc.schedule.graph import DependencyGraph, flatten, stream_of
from ctc.schedule.memory import memory_profile

COMPUTE_STREAM = "compute"


@attrs.frozen
class TraceEvent:
    """One span on a stream (seconds)."""

    name: str
    stream: str
    start: float
    duration: float
    category: str


@attrs.frozen
class SimulationReport:
    function: str
    step_ms: float
    compute_ms: float
    comm_ms: float
    exposed_comm_ms: float
    peak_memory_bytes: int
    collectives: int
    lower_bound_ms: float
    critical_path_ms: float
    stream_busy_ms: tuple[tuple[str, float], ...]
    events: tuple[TraceEvent, ...] = attrs.field(eq=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "step_ms": self.step_ms,
            "compute_ms": self.compute_ms,
            "comm_ms": self.comm_ms,
            "exposed_comm_ms": self.exposed_comm_ms,
            "peak_memory_bytes": self.peak_memory_bytes,
            "collectives": self.collectives,
            "lower_bound_ms": self.lower_bound_ms,
            "critical_path_ms": self.critical_path_ms,
            "streams": {name: busy for name, busy in self.stream_busy_ms},
        }


def simulate_function(func: Func, cost_model: CostModel) -> SimulationReport:
    ops = flatten(func).ops
    return simulate_ops(func.name, ops, func.args, cost_model)


def simulate_module(module: Module, cost_model: CostModel) -> list[SimulationReport]:
    """One report per function (``@joint``, or ``@fwd`` and ``@bwd``)."""
    return [simulate_function(func, cost_model) for func in module.functions]


def simulate_ops(
    name: str, ops: Sequence[Op], args: Sequence[Value], cost_model: CostModel
) -> SimulationReport:
    durations = [cost_model.op_time(op) for op in ops]
    events: list[TraceEvent] = []
    now = 0.0
    compute_busy = 0.0
    stream_free: dict[str, float] = {}
    stream_busy: dict[str, float] = {}
    done: dict[str, float] = {}
    collectives = 0
    for op, duration in zip(ops, durations, strict=True):
        if isinstance(op, CollectiveOp):
            collectives += 1
            issue = cost_model.issue_time(op)
            if issue > 0:
                events.append(TraceEvent("issue", COMPUTE_STREAM, now, issue, "compute"))
                now += issue
                compute_busy += issue
            stream = stream_of(op)
            start = max(now, stream_free.get(stream, 0.0))
            stream_free[stream] = start + duration
            stream_busy[stream] = stream_busy.get(stream, 0.0) + duration
            for result in op.results:
                done[result.name] = start + duration
            events.append(TraceEvent(_label(op), stream, start, duration, "comm"))
        elif isinstance(op, WaitOp):
            ready = max((done.get(v.name, 0.0) for v in op.operand_values()), default=0.0)
            if ready > now:
                events.append(TraceEvent("wait", COMPUTE_STREAM, now, ready - now, "exposed"))
                now = ready
        elif duration > 0:
            events.append(TraceEvent(_label(op), COMPUTE_STREAM, now, duration, "compute"))
            now += duration
            compute_busy += duration
    step = max([now, *stream_free.values()])
    graph = DependencyGraph(ops)
    critical = graph.critical_path(durations)
    busiest = max([compute_busy, *stream_busy.values()])
    memory = memory_profile(ops, args)
    return SimulationReport(
        function=name,
        step_ms=step * 1e3,
        compute_ms=compute_busy * 1e3,
        comm_ms=sum(stream_busy.values()) * 1e3,
        exposed_comm_ms=max(0.0, step - compute_busy) * 1e3,
        peak_memory_bytes=memory.peak_bytes,
        collectives=collectives,
        lower_bound_ms=max(critical, busiest) * 1e3,
        critical_path_ms=critical * 1e3,
        stream_busy_ms=tuple(sorted((s, b * 1e3) for s, b in stream_busy.items())),
        events=tuple(events),
    )


def _label(op: Op) -> str:
    result = f"%{op.results[0].name} = " if op.results else ""
    module = f" [{op.loc.module}]" if op.loc.module else ""
    return f"{result}{op.name}{module}"


def chrome_trace(reports: Sequence[SimulationReport]) -> dict[str, Any]:
    """A Chrome/Perfetto trace (``traceEvents``, complete events in microseconds): one process
    per function, one thread per stream (compute first)."""
    trace: list[dict[str, Any]] = []
    for pid, report in enumerate(reports):
        trace.append(_metadata("process_name", pid, 0, f"@{report.function}"))
        streams = [COMPUTE_STREAM]
        streams += sorted({e.stream for e in report.events if e.stream != COMPUTE_STREAM})
        tids = {stream: tid for tid, stream in enumerate(streams)}
        for stream, tid in tids.items():
            trace.append(_metadata("thread_name", pid, tid, stream))
        for event in report.events:
            trace.append(
                {
                    "name": event.name,
                    "cat": event.category,
                    "ph": "X",
                    "ts": event.start * 1e6,
                    "dur": event.duration * 1e6,
                    "pid": pid,
                    "tid": tids[event.stream],
                }
            )
    return {"traceEvents": trace, "displayTimeUnit": "ms"}


def _metadata(kind: str, pid: int, tid: int, name: str) -> dict[str, Any]:
    return {"name": kind, "ph": "M", "pid": pid, "tid": tid, "args": {"name": name}}


def trace_json(reports: Sequence[SimulationReport]) -> str:
    return json.dumps(chrome_trace(reports), indent=None, separators=(",", ":")) + "\n"
