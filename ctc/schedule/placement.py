"""Placements: where each communication unit is issued and waited (``Slots`` of a ``Layout``).

A placement holds ``Slots(issue, finish)`` per unit; policies here compute them from
rank-independent facts only (slots, roles, sizes), with ties broken by original order:

- ``home``: where the input program had them (for a bucket: issued and waited at its first use
  if it gathers, right when its inputs are ready if it reduces -- its smallest footprint);
- ``block_placement``: the all-gather of bucket ``j + prefetch`` issued where bucket ``j`` is
  first used, and the wait of reduce-scatter ``j`` deferred to the issue of ``j + prefetch``;
- ``eager_placement``: every collective issued as early as its inputs allow, waited as late as
  its uses allow, keeping each stream's original issue order.

``fit_budget`` then moves units back home, largest buffers at the peak first, until the
program's peak memory is within the budget.
"""

from __future__ import annotations

from ctc.ir.ops import AllGatherOp
from ctc.schedule.bucketing import bucket_bytes
from ctc.schedule.memory import memory_profile
from ctc.schedule.units import CommUnit, Layout, Placement, Role, Slots, emit


def home_placement(layout: Layout) -> Placement:
    return [Slots(unit.home_issue, unit.home_finish) for unit in layout.units]


def home_slots(unit: CommUnit) -> tuple[int, int]:
    """The smallest-footprint slots of a bucket that has no place in the input program."""
    slot = unit.need if isinstance(unit.collective, AllGatherOp) else unit.ready
    return slot, slot


def _chains(layout: Layout, role: Role) -> dict[str, list[int]]:
    chains: dict[str, list[int]] = {}
    for number, unit in enumerate(layout.units):
        if unit.role is role:
            chains.setdefault(unit.stream, []).append(number)
    return chains


def block_placement(layout: Layout, prefetch: int) -> Placement:
    placement = home_placement(layout)
    units = layout.units
    for chain in _chains(layout, Role.FSDP_GATHER).values():
        chain.sort(key=lambda u: (units[u].need, units[u].order))
        for position, number in enumerate(chain):
            unit, slots = units[number], placement[number]
            slots.finish = unit.need
            if position < prefetch:
                slots.issue = unit.ready
            else:
                ahead = units[chain[position - prefetch]].need
                slots.issue = max(unit.ready, min(ahead, unit.need))
    for chain in _chains(layout, Role.FSDP_REDUCE).values():
        chain.sort(key=lambda u: (units[u].ready, units[u].order))
        for position, number in enumerate(chain):
            unit, slots = units[number], placement[number]
            slots.issue = unit.ready
            if position + prefetch < len(chain) and prefetch > 0:
                later = units[chain[position + prefetch]].ready
                slots.finish = max(unit.ready, min(later, unit.need))
            elif prefetch > 0:
                slots.finish = unit.need
            else:
                slots.finish = unit.ready
    enforce(layout, placement, monotone=False)
    return placement


def eager_placement(layout: Layout) -> Placement:
    placement = [Slots(unit.ready, unit.need) for unit in layout.units]
    enforce(layout, placement, monotone=True)
    return placement


def enforce(layout: Layout, placement: Placement, monotone: bool) -> None:
    """Makes a placement valid in place: ready <= issue <= finish <= need, a unit issued after
    the units it reads from finish, and (``monotone``) each stream's issue order kept."""
    last_issue: dict[str, int] = {}
    units = layout.units
    for number in sorted(range(len(units)), key=lambda u: units[u].order):
        unit, slots = units[number], placement[number]
        slot = max([slots.issue, unit.ready, *(placement[v].finish for v in unit.after)])
        if monotone:
            slot = max(slot, last_issue.get(unit.stream, 0))
            last_issue[unit.stream] = slot
        slots.issue = min(slot, unit.need)
        slots.finish = min(max(slots.finish, slots.issue), unit.need)


def peak_memory(layout: Layout, placement: Placement) -> int:
    emitted = emit(layout, placement)
    return memory_profile(emitted.ops, layout.func.args).peak_bytes


def fit_budget(layout: Layout, placement: Placement, budget: float | None, monotone: bool) -> bool:
    """Moves units home (in place) until peak memory <= ``budget``; False if it cannot."""
    if budget is None:
        return True
    units = layout.units
    for _ in range(len(units) + 1):
        emitted = emit(layout, placement)
        profile = memory_profile(emitted.ops, layout.func.args)
        if profile.peak_bytes <= budget:
            return True
        peak = profile.peak_index
        covering = [
            number
            for number, (first, last) in enumerate(emitted.spans)
            if first <= peak <= last and not _at_home(units[number], placement[number])
        ]
        if not covering:
            return False
        chosen = max(covering, key=lambda u: (bucket_bytes([units[u]]), -units[u].order))
        placement[chosen] = Slots(units[chosen].home_issue, units[chosen].home_finish)
        enforce(layout, placement, monotone)
    return peak_memory(layout, placement) <= budget


def _at_home(unit: CommUnit, slots: Slots) -> bool:
    return (slots.issue, slots.finish) == (unit.home_issue, unit.home_finish)
