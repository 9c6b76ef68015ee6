"""From decisions to IR: roles assigned, bucket groups applied to a layout, a placement turned
into a function.

A bucket plan is a list of groups of unit numbers (each group one bucket, in stream order); a
placement is the ``Slots`` of every unit. ``block_groups`` is the plan of ``bucket(block)``;
``apply_buckets`` builds the bucketed units; ``build_function`` emits and re-derives regions.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ctc.ir.core import Func
from ctc.schedule.bucketing import (
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
from ctc.schedule.units import CommUnit, Layout, Placement, Role, all_values, emit, with_units


def assign_roles(layout: Layout) -> Layout:
    """The layout with every unit's FSDP role (``bucketing.fsdp_role``)."""
    returned = returned_roles(layout.func)
    units = [attrs.evolve(u, role=fsdp_role(u, layout.func, returned)) for u in layout.units]
    return attrs.evolve(layout, units=tuple(units))


def streams_split(layout: Layout) -> Layout:
    """The layout with every FSDP all-gather on its own stream (``stream`` attribute)."""
    units = tuple(
        with_stream(unit, ALL_GATHER_STREAM) if unit.role is Role.FSDP_GATHER else unit
        for unit in layout.units
    )
    return attrs.evolve(layout, units=units)


def candidate_chains(layout: Layout) -> dict[tuple[object, ...], list[int]]:
    """FSDP units that may share buckets, by compatibility key, each list in original order."""
    chains: dict[tuple[object, ...], list[int]] = {}
    for number in sorted(range(len(layout.units)), key=lambda u: layout.units[u].order):
        unit = layout.units[number]
        if unit.role is not Role.OTHER:
            chains.setdefault(compatibility(unit), []).append(number)
    return chains


def block_groups(layout: Layout, cap: int | None) -> list[list[int]]:
    """Consecutive compatible FSDP collectives of one block, split where they exceed ``cap``.
    A collective with no module path stays alone."""
    sizes = [bucket_bytes([unit]) for unit in layout.units]
    groups: list[list[int]] = []
    for chain in candidate_chains(layout).values():
        run: list[int] = []
        run_key: str | None = None
        for number in chain:
            key = block_key(layout.units[number], layout)
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


def apply_buckets(layout: Layout, groups: Sequence[Sequence[int]]) -> tuple[Layout, list[int]]:
    """The layout with each group of two or more units merged into one bucket unit, and for each
    new unit the number of the old unit (or the first member) it stands for."""
    names = Names(all_values(layout.func))
    merged: dict[int, list[int]] = {group[0]: list(group) for group in groups if len(group) > 1}
    absorbed = {number for group in merged.values() for number in group[1:]}
    units: list[CommUnit] = []
    origin: list[int] = []
    buckets = 0
    for number, unit in enumerate(layout.units):
        if number in absorbed:
            continue
        if number in merged:
            members = [layout.units[m] for m in merged[number]]
            unit = make_bucket(members, names, f"bucket{buckets}", block_key(unit, layout))
            buckets += 1
        units.append(unit)
        origin.append(number)
    bucketed = with_units(layout, units)
    # A bucket has no place in the input program: its home is its smallest footprint.
    homed = []
    for unit, old in zip(bucketed.units, origin, strict=True):
        if old in merged:
            issue, finish = home_slots(unit)
            unit = attrs.evolve(unit, home_issue=issue, home_finish=finish)
        homed.append(unit)
    return attrs.evolve(bucketed, units=tuple(homed)), origin


def build_function(layout: Layout, placement: Placement) -> Func:
    emitted = emit(layout, placement)
    return layout.func.with_ops(regroup(emitted.ops, emitted.paths, layout.regions))
