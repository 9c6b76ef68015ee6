"""Bucketing: several FSDP collectives of one stream become one collective on a flat buffer.

All-gather (every member gathers a dim-0 shard ``x_k: [n_k, *rest]`` into ``[N*n_k, *rest]``,
rank-major): copy-in flattens each shard and concatenates them into ``[S]``; the bucket gathers
``[N*S]``, i.e. ``N`` rank rows of ``S``. Copy-out views that as ``[N, S]``, slices each member's
columns ``[N, s_k]`` (strided), copies them contiguous and views the copy as ``[N*n_k, *rest]``:
rank ``r``'s rows of member ``k`` land exactly where the member's own all-gather put them.

Reduce-scatter (member ``x_k: [N*m_k, *rest]``, rank ``r`` keeps rows ``r*m_k ...``): copy-in
views each input as ``[N, c_k]`` (row ``r`` is rank ``r``'s chunk), concatenates along dim 1 into
``[N, C]`` and flattens, so every rank's chunks are contiguous; the bucket reduce-scatters
``[N*C]`` into ``[C]``, and copy-out slices ``[c_k]`` and views it as ``[m_k, *rest]`` (no copy).

Every copy-out result takes the name and type of the member's ``coll.wait`` result, so nothing
downstream is renamed. The ops are plain aten ops that lower to runnable FX: ``aten.view``,
``aten.reshape`` (for a strided input), ``aten.cat``, ``aten.slice.Tensor``, ``aten.clone``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

import attrs

from ctc.ir.attributes import DictAttr, TagAttr
from ctc.ir.core import Func, Loc, Op, Value
from ctc.ir.ops import AllGatherOp, ReduceScatterOp, ReturnOp, WaitOp, make_op
from ctc.ir.types import TensorType, tensor
from ctc.schedule.opinfo import tensor_type
from ctc.schedule.units import CommUnit, Layout, Role

# The stream attribute that gives FSDP all-gathers their own communicator, so that they overlap
# with reduce-scatters of the same mesh dimension (as torch's block bucketing does).
ALL_GATHER_STREAM = "fsdp_all_gather"

_LAYER = re.compile(r"(.*?(?:^|\.)layers\.\d+)(?:\.|$)")


def block_of(module: str) -> str:
    """The bucket key of a module path: ``layers.N`` (with any prefix before it) inside a
    transformer block, the first component otherwise (``tok_embeddings``, ``norm``, ``output``)."""
    match = _LAYER.match(module)
    if match:
        return match.group(1)
    return module.split(".")[0]


def _static_shape(value: Value) -> tuple[int, ...] | None:
    value_type = tensor_type(value)
    if value_type is None or not all(isinstance(d, int) for d in value_type.shape):
        return None
    return tuple(int(d) for d in value_type.shape)


def fsdp_role(unit: CommUnit, func: Func, returned: dict[str, str]) -> Role:
    """``FSDP_GATHER`` for a dim-0 all-gather of a parameter (through movable ops only),
    ``FSDP_REDUCE`` for a dim-0 reduce-scatter whose result is returned as a gradient, ``OTHER``
    for anything else (tensor-parallel and expert-parallel collectives stay as they are)."""
    op = unit.collective
    if not isinstance(op, AllGatherOp | ReduceScatterOp):
        return Role.OTHER
    shape = _static_shape(op.input)
    if shape is None or not shape or op.dim != 0 or op.size < 2:
        return Role.OTHER
    if isinstance(op, AllGatherOp):
        params = {
            arg.name
            for arg, attributes in zip(func.args, func.arg_attrs, strict=False)
            if "param" in attributes
        }
        defined = {r.name: o for o in unit.start for r in o.results}
        value = op.input
        while value.name in defined:
            sources = [v for v in defined[value.name].operand_values() if tensor_type(v)]
            if len(sources) != 1:
                return Role.OTHER
            value = sources[0]
        return Role.FSDP_GATHER if value.name in params else Role.OTHER
    finished = {r.name for o in unit.finish for r in o.results}
    is_gradient = any(returned.get(name) == "grad" for name in finished)
    return Role.FSDP_REDUCE if is_gradient else Role.OTHER


# Result attributes that say what a returned value is (``ctc.frontend_fx.boundary``); others, such
# as the AOT descriptor ``desc`` that captured functions put first, say nothing about the role.
RESULT_ROLES = ("grad", "grad_input", "loss", "output", "mutated", "saved")


def returned_roles(func: Func) -> dict[str, str]:
    """Value name -> ``grad`` / ``loss`` / ... for the values ``ctc.return`` gives back."""
    if not func.ops or not isinstance(func.ops[-1], ReturnOp):
        return {}
    roles: dict[str, str] = {}
    for operand, attributes in zip(func.ops[-1].operands, func.result_attrs, strict=False):
        role = next((key for key in RESULT_ROLES if key in attributes), None)
        if isinstance(operand, Value) and role is not None:
            roles.setdefault(operand.name, role)
    return roles


def block_key(unit: CommUnit, layout: Layout) -> str | None:
    """The block a collective belongs to, from the first module path found on its collective, its
    other ops, then the skeleton op it is issued for (an all-gather's first user, a
    reduce-scatter's producer)."""
    ops: list[Op] = [unit.collective, *unit.start, *unit.finish]
    near = unit.need if isinstance(unit.collective, AllGatherOp) else unit.ready - 1
    if 0 <= near < len(layout.skeleton):
        ops.append(layout.skeleton[near])
    module = next((op.loc.module for op in ops if op.loc.module), None)
    return block_of(module) if module else None


def compatibility(unit: CommUnit) -> tuple[object, ...]:
    """Members of one bucket agree on all of this."""
    op = unit.collective
    value_type = tensor_type(op.input)
    dtype = value_type.dtype if value_type is not None else ""
    reduce_op = op.reduce_op if isinstance(op, ReduceScatterOp) else None
    return (unit.role, unit.stream, dtype, op.size, op.group_dims, reduce_op)


def bucket_bytes(units: Iterable[CommUnit]) -> int:
    """The big side of a bucket: gathered output of all-gathers, full input of reduce-scatters."""
    total = 0
    for unit in units:
        op = unit.collective
        value = op.results[0] if isinstance(op, AllGatherOp) else op.input
        value_type = tensor_type(value)
        total += (value_type.nbytes or 0) if value_type is not None else 0
    return total


def split_by_cap(units: Sequence[int], sizes: Sequence[int], cap: int | None) -> list[list[int]]:
    """Consecutive runs of ``units`` whose ``sizes`` sum to at most ``cap`` (a unit larger than
    the cap is a bucket of its own)."""
    buckets: list[list[int]] = []
    total = 0
    for unit in units:
        if buckets and (cap is None or total + sizes[unit] <= cap):
            buckets[-1].append(unit)
            total += sizes[unit]
        else:
            buckets.append([unit])
            total = sizes[unit]
    return buckets


@attrs.define
class Names:
    """Fresh value names, deterministic: ``bucket0.in`` unless the function already has it."""

    taken: set[str]

    def fresh(self, name: str) -> str:
        candidate, suffix = name, 1
        while candidate in self.taken:
            candidate, suffix = f"{name}_{suffix}", suffix + 1
        self.taken.add(candidate)
        return candidate


def with_stream(unit: CommUnit, stream: str | None) -> CommUnit:
    """The unit with its collective on ``stream`` (None: the group's own stream)."""
    op = unit.collective
    attributes = op.attributes.without("stream")
    if stream is not None:
        attributes = attributes.with_entry("stream", stream)
    if attributes == op.attributes:
        return unit
    return attrs.evolve(unit, start=(*unit.start[:-1], op.replace(attributes=attributes)))


def make_bucket(
    members: Sequence[CommUnit], names: Names, prefix: str, module: str | None
) -> CommUnit:
    """One unit doing the work of ``members`` (compatible, at least two), with copy-in/out ops;
    its slots are yet to be analyzed and chosen."""
    first = members[0].collective
    # A bucket of collectives the partitioner recomputes (reshard after forward) is recomputed
    # as a whole; one with any member saved is saved.
    policies = {(m.collective.loc.recompute, m.collective.loc.ac_graph_id) for m in members}
    recompute, ac_graph_id = policies.pop() if len(policies) == 1 else (None, None)
    loc = Loc(module=module, phase=first.loc.phase, recompute=recompute, ac_graph_id=ac_graph_id)
    build = _gather_ops if isinstance(first, AllGatherOp) else _scatter_ops
    start, finish = build(members, names, prefix, loc)
    pre = tuple(op for m in members for op in m.start[:-1])
    post = tuple(op for m in members for op in m.finish[1:])
    order = min(m.order for m in members)
    return CommUnit((*pre, *start), (*finish, *post), order, tuple(members), members[0].role)


def _value(
    names: Names, name: str, dtype: str, shape: Sequence[int], strides: object = None
) -> Value:
    return Value(names.fresh(name), tensor(dtype, *shape, strides=strides))  # type: ignore[arg-type]


def _flatten_op(source: Value, result: Value, shape: list[int], loc: Loc) -> Op:
    source_type = tensor_type(source)
    if source_type is not None and source_type.strides is None:
        return make_op("aten.view.default", [source], [result], {"size": shape}, loc=loc)
    return make_op("aten.reshape.default", [source], [result], {"shape": shape}, loc=loc)


def _collective_attributes(op: Op) -> DictAttr:
    """The first member's attributes (group, size, reduce op, stream), gathering along dim 0."""
    return op.attributes.with_entry("dim", 0)


def _gather_ops(
    members: Sequence[CommUnit], names: Names, prefix: str, loc: Loc
) -> tuple[list[Op], list[Op]]:
    first = members[0].collective
    ranks = first.size
    dtype = _dtype(first.input)
    start: list[Op] = []
    pieces: list[Value] = []
    sizes: list[int] = []
    for index, member in enumerate(members):
        source = member.collective.input
        numel = math.prod(_static_shape(source) or (0,))
        sizes.append(numel)
        if len(_static_shape(source) or ()) == 1 and tensor_type(source).strides is None:  # type: ignore[union-attr]
            pieces.append(source)
            continue
        flat = _value(names, f"{prefix}.in{index}", dtype, [numel])
        start.append(_flatten_op(source, flat, [numel], loc))
        pieces.append(flat)
    total = sum(sizes)
    buffer = _value(names, f"{prefix}.in", dtype, [total])
    start.append(make_op("aten.cat.default", [pieces], [buffer], {"dim": 0}, loc=loc))
    gathered = _value(names, f"{prefix}.ag", dtype, [ranks * total])
    attributes = _collective_attributes(first)
    start.append(make_op(AllGatherOp.OP_NAME, [buffer], [gathered], attributes, loc=loc))
    waited = _value(names, f"{prefix}.out", dtype, [ranks * total])
    finish: list[Op] = [make_op(WaitOp.OP_NAME, [gathered], [waited], loc=loc)]
    rows = _value(names, f"{prefix}.rows", dtype, [ranks, total])
    finish.append(make_op("aten.view.default", [waited], [rows], {"size": [ranks, total]}, loc=loc))
    offset = 0
    for index, (member, numel) in enumerate(zip(members, sizes, strict=True)):
        columns = _value(names, f"{prefix}.cols{index}", dtype, [ranks, numel], (total, 1))
        slice_attributes: dict[str, object] = {
            "dim": 1,
            "start": offset,
            "end": offset + numel,
            "step": 1,
        }
        finish.append(make_op("aten.slice.Tensor", [rows], [columns], slice_attributes, loc=loc))
        copy = _value(names, f"{prefix}.copy{index}", dtype, [ranks, numel])
        contiguous: dict[str, object] = {
            "memory_format": TagAttr("memory_format", "contiguous_format")
        }
        finish.append(make_op("aten.clone.default", [columns], [copy], contiguous, loc=loc))
        result = member.finish[0].results[0]
        shape = list(_static_shape(result) or ())
        finish.append(make_op("aten.view.default", [copy], [result], {"size": shape}, loc=loc))
        offset += numel
    return start, finish


def _scatter_ops(
    members: Sequence[CommUnit], names: Names, prefix: str, loc: Loc
) -> tuple[list[Op], list[Op]]:
    first = members[0].collective
    ranks = first.size
    dtype = _dtype(first.input)
    start: list[Op] = []
    pieces: list[Value] = []
    chunks: list[int] = []
    for index, member in enumerate(members):
        source = member.collective.input
        chunk = math.prod(_static_shape(source) or (0,)) // ranks
        chunks.append(chunk)
        rows = _value(names, f"{prefix}.in{index}", dtype, [ranks, chunk])
        start.append(_flatten_op(source, rows, [ranks, chunk], loc))
        pieces.append(rows)
    total = sum(chunks)
    joined = _value(names, f"{prefix}.in", dtype, [ranks, total])
    start.append(make_op("aten.cat.default", [pieces], [joined], {"dim": 1}, loc=loc))
    flat = _value(names, f"{prefix}.flat", dtype, [ranks * total])
    start.append(make_op("aten.view.default", [joined], [flat], {"size": [ranks * total]}, loc=loc))
    scattered = _value(names, f"{prefix}.rs", dtype, [total])
    attributes = _collective_attributes(first)
    start.append(make_op(ReduceScatterOp.OP_NAME, [flat], [scattered], attributes, loc=loc))
    waited = _value(names, f"{prefix}.out", dtype, [total])
    finish: list[Op] = [make_op(WaitOp.OP_NAME, [scattered], [waited], loc=loc)]
    offset = 0
    for index, (member, chunk) in enumerate(zip(members, chunks, strict=True)):
        result = member.finish[0].results[0]
        shape = list(_static_shape(result) or ())
        slice_attributes: dict[str, object] = {
            "dim": 0,
            "start": offset,
            "end": offset + chunk,
            "step": 1,
        }
        if len(shape) == 1:
            piece = result
        else:
            piece = _value(names, f"{prefix}.piece{index}", dtype, [chunk])
        finish.append(make_op("aten.slice.Tensor", [waited], [piece], slice_attributes, loc=loc))
        if piece is not result:
            finish.append(make_op("aten.view.default", [piece], [result], {"size": shape}, loc=loc))
        offset += chunk
    return start, finish


def _dtype(value: Value) -> str:
    value_type = value.type
    assert isinstance(value_type, TensorType)
    return value_type.dtype
