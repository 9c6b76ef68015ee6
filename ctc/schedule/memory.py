"""Peak memory of a flat op list by liveness of tensor storage, in program order.

A result is allocated when its op runs and freed after the last use of any value sharing its
storage (views, ``coll.wait`` and in-place aten ops such as ``copy_`` alias their first operand;
a collective allocates its output when it is issued, unless marked ``inplace``: see
``writes_into_input``). A collective's inputs stay alive until its ``coll.wait``, as the caching
allocator keeps them for the communication stream. Function arguments are resident throughout;
returned values live to the end. Program order, not time, decides: the allocator frees when the
host drops the last reference, so the order of the program is what a schedule changes and what
the budget bounds.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ctc.errors import CtcError
from ctc.ir.attributes import BoolAttr
from ctc.ir.core import Op, Value
from ctc.ir.effects import is_inplace
from ctc.ir.ops import CollectiveOp, WaitOp
from ctc.schedule.opinfo import first_tensor_operand, is_view, value_bytes

INPLACE = "inplace"


@attrs.frozen
class MemoryProfile:
    """``live_bytes[i]``: bytes live while op ``i`` runs (its results allocated, its inputs not yet
    freed); ``peak_bytes`` the maximum, at op ``peak_index`` (-1 for an empty list)."""

    resident_bytes: int
    live_bytes: tuple[int, ...]
    peak_bytes: int
    peak_index: int


def memory_profile(ops: Sequence[Op], args: Sequence[Value] = ()) -> MemoryProfile:
    resident = sum(value_bytes(arg) for arg in args)
    storage_of: dict[str, int] = {arg.name: -1 for arg in args}  # -1: resident, never freed
    sizes: list[int] = []
    last_use: list[int] = []
    allocated_at: list[list[int]] = [[] for _ in ops]
    collective_inputs: dict[str, list[int]] = {}

    def touch(value: Value, index: int) -> None:
        storage = storage_of.get(value.name)
        if storage is not None and storage >= 0:
            last_use[storage] = max(last_use[storage], index)

    for index, op in enumerate(ops):
        for value in op.operand_values():
            touch(value, index)
        if isinstance(op, WaitOp):
            for value in op.operand_values():
                for storage in collective_inputs.get(value.name, []):
                    last_use[storage] = max(last_use[storage], index)
        aliased = _aliased_storage(op, storage_of)
        for result in op.results:
            if aliased is not None:
                storage_of[result.name] = aliased
                continue
            storage_of[result.name] = len(sizes)
            sizes.append(value_bytes(result))
            last_use.append(index)
            allocated_at[index].append(len(sizes) - 1)
        if isinstance(op, CollectiveOp) and op.results:
            inputs = [storage_of.get(v.name) for v in op.operand_values()]
            collective_inputs[op.results[0].name] = [s for s in inputs if s is not None and s >= 0]

    freed_at: list[list[int]] = [[] for _ in ops]
    for storage, index in enumerate(last_use):
        freed_at[index].append(storage)
    live = resident
    live_bytes: list[int] = []
    for index in range(len(ops)):
        live += sum(sizes[s] for s in allocated_at[index])
        live_bytes.append(live)
        live -= sum(sizes[s] for s in freed_at[index])
    peak = max(live_bytes, default=resident)
    peak_index = live_bytes.index(peak) if live_bytes else -1
    return MemoryProfile(resident, tuple(live_bytes), peak, peak_index)


def writes_into_input(op: Op) -> bool:
    """A collective with ``inplace = true`` writes its result into the storage its input views:
    torch's ``all_gather_into_tensor_out``, whose input is this rank's slice of the output."""
    flag = op.attr(INPLACE)
    return isinstance(op, CollectiveOp) and isinstance(flag, BoolAttr) and flag.value


def _aliased_storage(op: Op, storage_of: dict[str, int]) -> int | None:
    if not (is_view(op) or isinstance(op, WaitOp) or writes_into_input(op) or is_inplace(op)):
        return None
    source = first_tensor_operand(op)
    if source is None:
        return None
    return storage_of.get(source.name)


def resolve_budget(budget: object, unscheduled_peak: int) -> float | None:
    """The byte limit of a ``memory_budget`` option: None (no limit), a byte count (an int or an
    object with ``.bytes``, such as a pipeline ``Size``), or a float ratio >= 1 over the
    unscheduled peak."""
    if budget is None:
        return None
    size = getattr(budget, "bytes", None)
    if isinstance(size, int):
        return float(size)
    if isinstance(budget, bool) or not isinstance(budget, int | float):
        raise CtcError(f"memory_budget must be a size or a ratio >= 1, got {budget!r}")
    if isinstance(budget, int):
        return float(budget)
    if budget < 1.0:
        raise CtcError(f"memory_budget ratio {budget} is below 1: it is a ratio over the peak")
    return budget * unscheduled_peak
