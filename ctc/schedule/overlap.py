"""Independent computation moved into the shadow of collectives that would stall.

Bucketing and placement move communication only; a collective on the critical path (a
tensor-parallel all-gather or reduce-scatter whose result the next op needs) then stalls the
compute stream however it is placed. ``fill_stalls`` looks at each wait that stalls in the
simulated step and fills the stall with computation that does not depend on the collective:

- *sink*: ops just before the collective's issue that nothing up to the issue needs (a weight
  gradient matmul beside the input gradient being reduced) move to just after the issue;
- *hoist*: ops just after the wait that do not read its result (directly or through other moved
  ops) move to just before the wait.

Only plain ops move: no collectives, waits, ops with effects or regions, and never across an op
with effects. Decisions depend on positions and op costs only, so every rank makes the same ones;
each process group's collectives keep their order. The result is kept only when the simulated
step gets shorter and peak memory stays within the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ctc.ir.core import Func, Op, Value
from ctc.ir.effects import ordered_by_effects
from ctc.ir.ops import CollectiveOp, RegionOp, ReturnOp, WaitOp
from ctc.schedule.cost import CostModel
from ctc.schedule.graph import flatten, stream_of
from ctc.schedule.memory import memory_profile
from ctc.schedule.opinfo import value_bytes

# How many ops before an issue / after a wait are searched for independent work.
WINDOW = 96


def _fixed(op: Op) -> bool:
    """Ops that never move and that nothing moves across."""
    return isinstance(op, ReturnOp | RegionOp) or bool(op.regions) or ordered_by_effects(op)


def _times(ops: Sequence[Op], cost_model: CostModel) -> dict[int, float]:
    """id(op) -> seconds on its stream, -1 for an op that is ``_fixed``."""
    return {id(op): -1.0 if _fixed(op) else cost_model.op_time(op) for op in ops}


Times = dict[int, float]  # id(op) -> seconds on its stream (-1: fixed, see ``_times``)


def _timeline(ops: Sequence[Op], times: Times) -> tuple[list[tuple[int, int, float]], float]:
    """The simulator's timeline (``ctc.schedule.simulate``): (collective index, wait index,
    seconds the wait stalls) for each stalling wait in program order, and the step time."""
    now = 0.0
    free: dict[str, float] = {}
    done: dict[str, tuple[float, int]] = {}
    stalls = []
    for index, op in enumerate(ops):
        duration = max(times[id(op)], 0.0)
        if isinstance(op, CollectiveOp):
            stream = stream_of(op)
            start = max(now, free.get(stream, 0.0))
            free[stream] = start + duration
            for result in op.results:
                done[result.name] = (start + duration, index)
        elif isinstance(op, WaitOp):
            ready, issued = max(
                (done.get(v.name, (0.0, -1)) for v in op.operand_values()), default=(0.0, -1)
            )
            if ready > now and issued >= 0:
                stalls.append((issued, index, ready - now))
                now = ready
        else:
            now += duration
    return stalls, max([now, *free.values()])


def _sinkable(ops: list[Op], issue: int, need: float, times: Times) -> list[int]:
    """Indices before ``issue`` that nothing up to the issue needs (nearest first), until their
    compute covers ``need`` seconds; in program order."""
    needed = {v.name for v in ops[issue].operand_values()}
    chosen: list[int] = []
    covered = 0.0
    for index in range(issue - 1, max(-1, issue - 1 - WINDOW), -1):
        op = ops[index]
        if times[id(op)] < 0:
            break
        movable = not isinstance(op, CollectiveOp | WaitOp)
        if movable and not any(result.name in needed for result in op.results):
            chosen.append(index)
            covered += times[id(op)]
            if covered >= need:
                break
        else:
            needed.update(v.name for v in op.operand_values())
    return sorted(chosen) if covered > 0 else []


def _hoistable(ops: list[Op], wait: int, need: float, times: Times) -> list[int]:
    """Indices after ``wait`` that read nothing the wait (or an op staying after it) produces,
    until their compute covers ``need`` seconds."""
    dependent = {r.name for r in ops[wait].results}
    chosen: list[int] = []
    covered = 0.0
    for index in range(wait + 1, min(len(ops), wait + 1 + WINDOW)):
        op = ops[index]
        if times[id(op)] < 0:
            break
        if isinstance(op, CollectiveOp | WaitOp) or any(
            v.name in dependent for v in op.operand_values()
        ):
            dependent.update(r.name for r in op.results)
            continue
        chosen.append(index)
        covered += times[id(op)]
        if covered >= need:
            break
    return chosen if covered > 0 else []


def _fill(
    ops: list[Op],
    issue: int,
    wait: int,
    stall: float,
    times: Times,
    room: Callable[[int, int], float],
    args: frozenset[Value],
) -> tuple[int, int]:
    """Moves work under one stall, in place, when the bytes it may add fit the ``room`` left
    in the index range it reorders; that range (empty: none)."""
    sunk = _sinkable(ops, issue, stall, times)
    covered = sum(times[id(ops[i])] for i in sunk)
    hoisted = _hoistable(ops, wait, stall - covered, times) if covered < stall else []
    if not sunk and not hoisted:
        return 0, -1
    low = sunk[0] if sunk else issue
    high = hoisted[-1] if hoisted else wait
    # A sunk op keeps its inputs alive longer; a hoisted one allocates its results earlier.
    extra = sum(value_bytes(v) for i in sunk for v in ops[i].operand_values() if v not in args)
    extra += sum(value_bytes(v) for i in hoisted for v in ops[i].results)
    if extra > room(low, high):
        return 0, -1
    moved = set(sunk) | set(hoisted)
    segment: list[Op] = []
    for index in range(low, high + 1):
        if index == wait:
            segment.extend(ops[i] for i in hoisted)
        if index not in moved:
            segment.append(ops[index])
        if index == issue:
            segment.extend(ops[i] for i in sunk)
    ops[low : high + 1] = segment
    return low, high


def fill_stalls(func: Func, cost_model: CostModel, budget: float | None) -> Func:
    """``func`` with independent computation moved under its stalling collectives (see the
    module docstring), or ``func`` itself when that does not shorten the simulated step, or
    raises peak memory above ``budget`` bytes (None: above the input's peak). Functions with
    regions are left alone."""
    flat = flatten(func)
    if flat.regions:
        return func
    ops = list(flat.ops)
    times = _times(ops, cost_model)
    found, before = _timeline(ops, times)
    stalls = [(ops[issue], ops[wait], stall) for issue, wait, stall in found]
    memory = memory_profile(ops, func.args)
    limit = budget if budget is not None else memory.peak_bytes
    live = memory.live_bytes  # moves permute a range in place: other positions keep their bytes

    def room(low: int, high: int) -> float:
        return limit - max(live[low : high + 1])

    resident = frozenset(func.args)  # arguments live throughout
    position = {id(op): index for index, op in enumerate(ops)}
    changed = False
    for collective, wait, stall in stalls:
        low, high = _fill(
            ops, position[id(collective)], position[id(wait)], stall, times, room, resident
        )
        for index in range(low, high + 1):
            position[id(ops[index])] = index
        changed = changed or high >= low
    if not changed or _timeline(ops, times)[1] >= before:
        return func
    if memory_profile(ops, func.args).peak_bytes > limit:
        return func
    return func.with_ops(ops)
