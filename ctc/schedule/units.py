"""A function split into a compute *skeleton* and communication *units*, and put back together.

A unit is one collective with the data movement tied to it: its ``start`` group (the movable ops
that feed only this collective -- casts, views, a bucket's copy-in -- then the collective) and
its ``finish`` group (the ``coll.wait``, then movable ops fed only by it -- a bucket's copy-out,
a cast of a gradient). Everything else is the skeleton, whose order scheduling never changes.

A placement gives every unit an *issue slot* and a *finish slot* (``Slots``): slot ``k`` is the
gap before skeleton op ``k``. Every layout is analyzed as it is built: each unit records what the
data allows it: it can issue no earlier than ``ready`` (after the skeleton ops producing its
inputs) and must finish by ``need`` (before the first skeleton op using its results), plus
unit-to-unit orderings when one unit feeds another. ``emit`` turns a placement into a flat op
list; within a gap, waits of earlier issued units come first, then issues, then waits of units
issued in the same gap -- each in original order.
"""

from __future__ import annotations

import bisect
import enum
import heapq
from collections.abc import Sequence

import attrs

from ctc.ir.core import Func, Op
from ctc.ir.ops import CollectiveOp, RegionOp, WaitOp
from ctc.schedule.graph import RegionPath, common_path, flatten, is_movable, stream_of


class Role(enum.Enum):
    """What scheduling may do with a collective (``ctc.schedule.bucketing.fsdp_role``)."""

    # A dim-0 all-gather of a parameter: bucketed with its neighbours, prefetched.
    FSDP_GATHER = enum.auto()
    # A dim-0 reduce-scatter of a gradient the function returns: bucketed, waited late.
    FSDP_REDUCE = enum.auto()
    # Tensor- and expert-parallel collectives and any other: moved, never bucketed.
    OTHER = enum.auto()


@attrs.frozen
class CommUnit:
    """One collective with its tied ops, and everything scheduling knows about it.

    ``order``: flat position of the collective (of a bucket's first member) in the input.
    ``members``: the units a bucket merged (empty for a collective of the input). ``role``: what
    scheduling may do with it. ``home_issue``/``home_finish``: the slots where the input program
    had it (for a bucket: ``placement.home_slots``). ``ready``, ``need``, ``after``: what the data
    allows (set by the layout's analysis): issue >= ready, finish <= need, and issue >= the
    finish of every unit in ``after`` (it uses their results)."""

    start: tuple[Op, ...]
    finish: tuple[Op, ...]
    order: int
    members: tuple[CommUnit, ...] = ()
    role: Role = Role.OTHER
    home_issue: int = 0
    home_finish: int = 0
    ready: int = 0
    need: int = 0
    after: tuple[int, ...] = ()

    @property
    def collective(self) -> CollectiveOp:
        op = self.start[-1]
        assert isinstance(op, CollectiveOp)
        return op

    @property
    def stream(self) -> str:
        return stream_of(self.collective)


@attrs.frozen
class Layout:
    """A function as skeleton + units; ``paths`` are the skeleton ops' region paths. Build one
    with ``decompose`` or ``with_units``, which analyze its units."""

    func: Func
    skeleton: tuple[Op, ...]
    paths: tuple[RegionPath, ...]
    regions: tuple[RegionOp, ...]
    units: tuple[CommUnit, ...]

    @property
    def slots(self) -> int:
        """The last slot a unit may use: before the final ``ctc.return``."""
        return max(len(self.skeleton) - 1, 0)


@attrs.define
class Slots:
    """Where a placement puts one unit: issued in gap ``issue``, finished in gap ``finish``."""

    issue: int
    finish: int


# A placement: the slots of every unit of a layout, by unit number.
Placement = list[Slots]


def decompose(func: Func) -> Layout:
    flat = flatten(func)
    ops = flat.ops
    producer: dict[str, int] = {}
    users: list[list[int]] = [[] for _ in ops]
    for index, op in enumerate(ops):
        for value in op.operand_values():
            if value.name in producer:
                users[producer[value.name]].append(index)
        for result in op.results:
            producer[result.name] = index
    claimed: dict[int, int] = {}  # flat index -> unit number
    groups: list[tuple[list[int], list[int]]] = []
    for index, op in enumerate(ops):
        if not isinstance(op, CollectiveOp):
            continue
        wait = next((u for u in users[index] if isinstance(ops[u], WaitOp)), None)
        if wait is None:
            continue
        unit = len(groups)
        start = _feeding_cone(index, ops, producer, users, claimed)
        finish = _fed_cone(wait, ops, producer, users, claimed, set(a.name for a in func.args))
        for member in (*start, *finish):
            claimed[member] = unit
        groups.append((start, finish))
    skeleton_index = [i for i in range(len(ops)) if i not in claimed]

    def slot_before(flat_index: int) -> int:
        return bisect.bisect_left(skeleton_index, flat_index)

    units = [
        CommUnit(
            tuple(ops[i] for i in start),
            tuple(ops[i] for i in finish),
            start[-1],
            home_issue=slot_before(start[-1]),
            home_finish=slot_before(finish[0]),
        )
        for start, finish in groups
    ]
    layout = Layout(
        func,
        tuple(ops[i] for i in skeleton_index),
        tuple(flat.paths[i] for i in skeleton_index),
        flat.regions,
        (),
    )
    return with_units(layout, units)


def _feeding_cone(
    collective: int,
    ops: Sequence[Op],
    producer: dict[str, int],
    users: list[list[int]],
    claimed: dict[int, int],
) -> list[int]:
    """The collective and the movable ops whose results flow only into it."""
    cone = {collective}
    heap = [-producer[v.name] for v in ops[collective].operand_values() if v.name in producer]
    heapq.heapify(heap)
    while heap:
        candidate = -heapq.heappop(heap)
        if candidate in cone or candidate in claimed or not is_movable(ops[candidate]):
            continue
        if not users[candidate] or any(u not in cone for u in users[candidate]):
            continue
        cone.add(candidate)
        for value in ops[candidate].operand_values():
            if value.name in producer:
                heapq.heappush(heap, -producer[value.name])
    return sorted(cone)


def _fed_cone(
    wait: int,
    ops: Sequence[Op],
    producer: dict[str, int],
    users: list[list[int]],
    claimed: dict[int, int],
    args: set[str],
) -> list[int]:
    """The wait and the movable ops that read only its result (transitively) and arguments."""
    cone = {wait}
    heap = list(users[wait])
    heapq.heapify(heap)
    while heap:
        candidate = heapq.heappop(heap)
        if candidate in cone or candidate in claimed or not is_movable(ops[candidate]):
            continue
        inputs = list(ops[candidate].operand_values())
        if not all(v.name in args or producer.get(v.name) in cone for v in inputs):
            continue
        cone.add(candidate)
        for user in users[candidate]:
            heapq.heappush(heap, user)
    return sorted(cone)


def with_units(layout: Layout, units: Sequence[CommUnit]) -> Layout:
    """``layout`` with ``units``, each analyzed: what the data allows it (see ``CommUnit``)."""
    layout = attrs.evolve(layout, units=tuple(units))
    skeleton_def: dict[str, int] = {}
    for k, op in enumerate(layout.skeleton):
        for result in op.results:
            skeleton_def[result.name] = k
    finish_def: dict[str, int] = {}
    for number, unit in enumerate(layout.units):
        for op in unit.finish:
            for result in op.results:
                finish_def[result.name] = number
    first_skeleton_use: dict[str, int] = {}
    for k, op in enumerate(layout.skeleton):
        for value in op.operand_values():
            first_skeleton_use.setdefault(value.name, k)
    analyzed = []
    for number, unit in enumerate(layout.units):
        inner = {r.name for op in unit.start for r in op.results}
        ready, after = 0, set()
        for op in unit.start:
            for value in op.operand_values():
                if value.name in inner:
                    continue
                if value.name in skeleton_def:
                    ready = max(ready, skeleton_def[value.name] + 1)
                elif value.name in finish_def and finish_def[value.name] != number:
                    after.add(finish_def[value.name])
        need = layout.slots
        for op in unit.finish:
            for result in op.results:
                need = min(need, first_skeleton_use.get(result.name, need))
        analyzed.append(attrs.evolve(unit, ready=ready, need=need, after=tuple(sorted(after))))
    return attrs.evolve(layout, units=tuple(analyzed))


@attrs.frozen
class Emitted:
    """A flat op list with region paths; ``spans[u]`` = flat indices (first issue op, last
    finish op) of unit ``u``."""

    ops: tuple[Op, ...]
    paths: tuple[RegionPath, ...]
    spans: tuple[tuple[int, int], ...]


def emit(layout: Layout, placement: Placement) -> Emitted:
    by_slot: dict[int, list[tuple[int, int, str]]] = {}
    for number, slots in enumerate(placement):
        same_gap = slots.issue == slots.finish
        by_slot.setdefault(slots.issue, []).append((1, number, "start"))
        by_slot.setdefault(slots.finish, []).append((2 if same_gap else 0, number, "finish"))
    ops: list[Op] = []
    paths: list[RegionPath] = []
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for k in range(len(layout.skeleton) + 1):
        before = layout.paths[k - 1] if k > 0 else ()
        after = layout.paths[k] if k < len(layout.skeleton) else ()
        path = common_path(before, after)
        for number, part in _order_gap(by_slot.get(k, []), layout.units):
            unit = layout.units[number]
            group = unit.start if part == "start" else unit.finish
            if part == "start":
                first[number] = len(ops)
            ops.extend(group)
            paths.extend([path] * len(group))
            if part == "finish":
                last[number] = len(ops) - 1
        if k < len(layout.skeleton):
            ops.append(layout.skeleton[k])
            paths.append(layout.paths[k])
    spans = tuple((first[n], last[n]) for n in range(len(layout.units)))
    return Emitted(tuple(ops), tuple(paths), spans)


def _order_gap(
    entries: list[tuple[int, int, str]], units: Sequence[CommUnit]
) -> list[tuple[int, str]]:
    """The groups of one gap in a valid order (a unit starts before it finishes, and after the
    units it reads from finish), preferring (class, original order)."""
    keys = {(number, part): (cls, units[number].order, number) for cls, number, part in entries}
    waiting: dict[tuple[int, str], int] = dict.fromkeys(keys, 0)
    dependents: dict[tuple[int, str], list[tuple[int, str]]] = {key: [] for key in keys}
    for number, part in keys:
        blockers = []
        if part == "finish":
            blockers.append((number, "start"))
        else:
            blockers += [(earlier, "finish") for earlier in units[number].after]
        for blocker in blockers:
            if blocker in keys:
                waiting[(number, part)] += 1
                dependents[blocker].append((number, part))
    heap = [(keys[key], key) for key, count in waiting.items() if count == 0]
    heapq.heapify(heap)
    ordered = []
    while heap:
        _, key = heapq.heappop(heap)
        ordered.append(key)
        for dependent in dependents[key]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(heap, (keys[dependent], dependent))
    if len(ordered) != len(keys):
        raise ValueError("communication units of one gap depend on each other in a cycle")
    return ordered


def check_placement(layout: Layout, placement: Placement) -> list[str]:
    """Why a placement is invalid (empty when valid)."""
    problems = []
    for number, (unit, slots) in enumerate(zip(layout.units, placement, strict=True)):
        if not unit.ready <= slots.issue <= slots.finish <= unit.need:
            problems.append(
                f"unit {number}: need ready {unit.ready} <= issue {slots.issue} <= "
                f"finish {slots.finish} <= need {unit.need}"
            )
        for earlier in unit.after:
            if placement[earlier].finish > slots.issue:
                problems.append(f"unit {number} issues before unit {earlier} finishes")
    return problems


def all_values(func: Func) -> set[str]:
    names = {arg.name for arg in func.args}
    for op in flatten(func).ops:
        names.update(result.name for result in op.results)
    return names
