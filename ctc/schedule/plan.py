"""From decisions to IR: bucket groups applied to a layout, a placement turned into a function.

A bucket plan is a list of groups of unit numbers (each group one bucket, in stream order); a
placement is ``issue``/``finish`` slots. ``block_groups`` is the plan of ``bucket(block)``;
``apply_buckets`` builds the bucketed units; ``build_function`` emits and re-derives regions.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ctc.ir.core import Func
from ctc.schedule.bucketing import (
    ALL_GATHER,
    ALL_GATHER_STREAM,
    Names,
    block_key,
    bucket_bytes,
    compatibility,
    fsdp_role,
    make_bucket,
    returned_roles,
    split_by_cap,
    with_stream,
)
from ctc.schedule.graph import regroup
from ctc.schedule.placement import home_slots
from ctc.schedule.units import CommUnit, Layout, UnitFacts, all_values, analyze, emit


def unit_roles(layout: Layout) -> list[str | None]:
    returned = returned_roles(layout.func)
    return [fsdp_role(unit, layout.func, returned) for unit in layout.units]


def streams_split(layout: Layout, roles: Sequence[str | None]) -> Layout:
    """The layout with every FSDP all-gather on its own stream (``stream`` attribute)."""
    units = tuple(
        with_stream(unit, ALL_GATHER_STREAM) if role == ALL_GATHER else unit
        for unit, role in zip(layout.units, roles, strict=True)
    )
    return attrs.evolve(layout, units=units)


def candidate_chains(
    layout: Layout, roles: Sequence[str | None]
) -> dict[tuple[object, ...], list[int]]:
    """FSDP units that may share buckets, by compatibility key, each list in original order."""
    chains: dict[tuple[object, ...], list[int]] = {}
    for number in sorted(range(len(layout.units)), key=lambda u: layout.units[u].order):
        role = roles[number]
        if role is not None:
            chains.setdefault(compatibility(layout.units[number], role), []).append(number)
    return chains


def block_groups(
    layout: Layout,
    facts: Sequence[UnitFacts],
    roles: Sequence[str | None],
    cap: int | None,
) -> list[list[int]]:
    """Consecutive compatible FSDP collectives of one block, split where they exceed ``cap``.
    A collective with no module path stays alone."""
    sizes = [bucket_bytes([unit]) for unit in layout.units]
    groups: list[list[int]] = []
    for chain in candidate_chains(layout, roles).values():
        run: list[int] = []
        run_key: str | None = None
        for number in chain:
            key = block_key(layout.units[number], layout, facts[number])
            if run and (key is None or key != run_key):
                groups += split_by_cap(run, sizes, cap)
                run = []
            run.append(number)
            run_key = key
            if key is None:
                groups.append(run)
                run = []
        if run:
            groups += split_by_cap(run, sizes, cap)
    return groups


def apply_buckets(
    layout: Layout,
    facts: Sequence[UnitFacts],
    groups: Sequence[Sequence[int]],
) -> tuple[Layout, list[int]]:
    """The layout with each group of two or more units merged into one bucket unit, and for each
    new unit the number of the old unit (or the first member) it stands for."""
    names = Names(all_values(layout.func))
    merged: dict[int, list[int]] = {group[0]: list(group) for group in groups if len(group) > 1}
    absorbed = {number for group in merged.values() for number in group[1:]}
    units: list[CommUnit] = []
    origin: list[int] = []
    home_issue: list[int] = []
    home_finish: list[int] = []
    buckets = 0
    for number, unit in enumerate(layout.units):
        if number in absorbed:
            continue
        if number in merged:
            members = [layout.units[m] for m in merged[number]]
            module = block_key(unit, layout, facts[number])
            unit = make_bucket(members, names, f"bucket{buckets}", module)
            buckets += 1
            home_issue.append(-1)
            home_finish.append(-1)
        else:
            home_issue.append(layout.home_issue[number])
            home_finish.append(layout.home_finish[number])
        units.append(unit)
        origin.append(number)
    bucketed = attrs.evolve(
        layout, units=tuple(units), home_issue=tuple(home_issue), home_finish=tuple(home_finish)
    )
    new_facts = analyze(bucketed)
    for number, unit in enumerate(units):
        if home_issue[number] < 0:
            gathers = unit.collective.name == "coll.all_gather"
            home_issue[number], home_finish[number] = home_slots(gathers, new_facts[number])
    bucketed = attrs.evolve(bucketed, home_issue=tuple(home_issue), home_finish=tuple(home_finish))
    return bucketed, origin


def build_function(
    layout: Layout, facts: Sequence[UnitFacts], issue: Sequence[int], finish: Sequence[int]
) -> Func:
    emitted = emit(layout, facts, issue, finish)
    return layout.func.with_ops(regroup(emitted.ops, emitted.paths, layout.regions))
