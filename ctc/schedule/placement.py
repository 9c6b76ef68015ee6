"""Placements: where each communication unit is issued and waited (slots of a ``Layout``).

A placement is two lists, ``issue[u]`` and ``finish[u]``; policies here compute them from
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

from collections.abc import Sequence

from ctc.ir.ops import AllGatherOp
from ctc.schedule.bucketing import ALL_GATHER, REDUCE_SCATTER, bucket_bytes
from ctc.schedule.memory import memory_profile
from ctc.schedule.units import Layout, UnitFacts, emit

Slots = list[int]


def home_placement(layout: Layout) -> tuple[Slots, Slots]:
    return list(layout.home_issue), list(layout.home_finish)


def home_slots(unit_is_gather: bool, facts: UnitFacts) -> tuple[int, int]:
    """The smallest-footprint slots of a bucket that has no place in the input program."""
    slot = facts.need if unit_is_gather else facts.ready
    return slot, slot


def _chains(layout: Layout, roles: Sequence[str | None], role: str) -> dict[str, list[int]]:
    chains: dict[str, list[int]] = {}
    for number, unit in enumerate(layout.units):
        if roles[number] == role:
            chains.setdefault(unit.stream, []).append(number)
    return chains


def block_placement(
    layout: Layout, facts: Sequence[UnitFacts], roles: Sequence[str | None], prefetch: int
) -> tuple[Slots, Slots]:
    issue, finish = home_placement(layout)
    for chain in _chains(layout, roles, ALL_GATHER).values():
        chain.sort(key=lambda u: (facts[u].need, layout.units[u].order))
        for position, unit in enumerate(chain):
            fact = facts[unit]
            finish[unit] = fact.need
            if position < prefetch:
                issue[unit] = fact.ready
            else:
                ahead = facts[chain[position - prefetch]].need
                issue[unit] = max(fact.ready, min(ahead, fact.need))
    for chain in _chains(layout, roles, REDUCE_SCATTER).values():
        chain.sort(key=lambda u: (facts[u].ready, layout.units[u].order))
        for position, unit in enumerate(chain):
            fact = facts[unit]
            issue[unit] = fact.ready
            if position + prefetch < len(chain) and prefetch > 0:
                later = facts[chain[position + prefetch]].ready
                finish[unit] = max(fact.ready, min(later, fact.need))
            elif prefetch > 0:
                finish[unit] = fact.need
            else:
                finish[unit] = fact.ready
    enforce(layout, facts, issue, finish, monotone=False)
    return issue, finish


def eager_placement(layout: Layout, facts: Sequence[UnitFacts]) -> tuple[Slots, Slots]:
    issue = [fact.ready for fact in facts]
    finish = [fact.need for fact in facts]
    enforce(layout, facts, issue, finish, monotone=True)
    return issue, finish


def enforce(
    layout: Layout,
    facts: Sequence[UnitFacts],
    issue: Slots,
    finish: Slots,
    monotone: bool,
) -> None:
    """Makes a placement valid in place: ready <= issue <= finish <= need, a unit issued after
    the units it reads from finish, and (``monotone``) each stream's issue order kept."""
    last_issue: dict[str, int] = {}
    for number in sorted(range(len(layout.units)), key=lambda u: layout.units[u].order):
        fact = facts[number]
        slot = max([issue[number], fact.ready, *(finish[v] for v in fact.after)])
        if monotone:
            slot = max(slot, last_issue.get(layout.units[number].stream, 0))
            last_issue[layout.units[number].stream] = slot
        issue[number] = min(slot, fact.need)
        finish[number] = min(max(finish[number], issue[number]), fact.need)


def peak_memory(
    layout: Layout, facts: Sequence[UnitFacts], issue: Sequence[int], finish: Sequence[int]
) -> int:
    emitted = emit(layout, facts, issue, finish)
    return memory_profile(emitted.ops, layout.func.args).peak_bytes


def fit_budget(
    layout: Layout,
    facts: Sequence[UnitFacts],
    issue: Slots,
    finish: Slots,
    budget: float | None,
    monotone: bool,
) -> bool:
    """Moves units home (in place) until peak memory <= ``budget``; False if it cannot."""
    if budget is None:
        return True
    home = list(zip(layout.home_issue, layout.home_finish, strict=True))
    for _ in range(len(layout.units) + 1):
        emitted = emit(layout, facts, issue, finish)
        profile = memory_profile(emitted.ops, layout.func.args)
        if profile.peak_bytes <= budget:
            return True
        peak = profile.peak_index
        covering = [
            number
            for number, (first, last) in enumerate(emitted.spans)
            if first <= peak <= last and (issue[number], finish[number]) != home[number]
        ]
        if not covering:
            return False
        chosen = max(
            covering,
            key=lambda u: (bucket_bytes([layout.units[u]]), -layout.units[u].order),
        )
        issue[chosen], finish[chosen] = home[chosen]
        enforce(layout, facts, issue, finish, monotone)
    return peak_memory(layout, facts, issue, finish) <= budget


def is_gather(layout: Layout, number: int) -> bool:
    return isinstance(layout.units[number].collective, AllGatherOp)
