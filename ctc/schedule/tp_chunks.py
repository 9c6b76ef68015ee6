"""The ops that split a tensor-parallel site (``ctc.schedule.tp_sites``) into chunks.

A gather site of ``c`` chunks: at the all-gather, every rank's shard is viewed as ``[R, K]`` rows
and chunk ``j`` (rows ``j R/c .. (j+1) R/c``) gathered on its own, giving ``[p R/c, K]``: rank
``r``'s chunk ``j`` at rows ``r R/c``. At the first op reading the gathered tensor, each chunk is
waited and multiplied by every matmul of the site as it arrives (the collective of chunk ``j+1``
runs under the matmuls of chunk ``j``); each matmul's full result is rebuilt row for row by
``cat`` along dim 1 of the chunks viewed ``[p, R/c, N]``, and so is the gathered tensor when
something else reads it (a backward's weight gradient). A matmul whose weight operand is made
after that point by views only has those views moved up; one whose weight comes later still
reads the rebuilt tensor.

A scatter site of ``c`` chunks: at the reduce-scatter, each matmul of the product runs on column
chunk ``j`` of its weight (``[K, N/c]``, a slice: no copy), the adds of the product on the chunks,
and chunk ``j`` is reduce-scattered while chunk ``j + 1`` is computed; at the wait, the chunks'
results are waited and joined by ``cat`` along the columns.

Every output element is the same sum as before: the same row of the left operand times the same
column of the right one, over the same contraction length, and the same reduction over ranks
(matmul kernels may still pick another accumulation order for a smaller shape: the tests compare
bitwise and say when they differ). Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ctc.ir.core import Loc, Op, Value
from ctc.ir.ops import AllGatherOp, ReduceScatterOp, WaitOp, make_op
from ctc.ir.types import tensor
from ctc.schedule.bucketing import Names
from ctc.schedule.opinfo import is_view, tensor_type
from ctc.schedule.tp_sites import (
    GatherSite,
    Leaf,
    Product,
    ScatterSite,
    Uses,
    leaves,
    static_shape,
)
from ctc.schedule.tp_sites import Sum as SumNode


@attrs.frozen
class Edit:
    """Ops removed from a flat list and ops inserted before given positions."""

    removed: frozenset[int]
    before: dict[int, tuple[Op, ...]]

    def touched(self) -> frozenset[int]:
        return self.removed | frozenset(self.before)


def apply_edits(ops: Sequence[Op], edits: Sequence[Edit]) -> tuple[list[Op], list[int]]:
    """The new flat list, and for each of its ops the index of the old op it was placed with
    (for region paths)."""
    removed = frozenset().union(*(e.removed for e in edits))
    before: dict[int, list[Op]] = {}
    for edit in edits:
        for index, block in edit.before.items():
            before.setdefault(index, []).extend(block)
    new_ops: list[Op] = []
    anchors: list[int] = []
    for index, op in enumerate(ops):
        for new_op in before.get(index, ()):
            new_ops.append(new_op)
            anchors.append(index)
        if index not in removed:
            new_ops.append(op)
            anchors.append(index)
    return new_ops, anchors


def _dtype(value: Value) -> str:
    value_type = tensor_type(value)
    return value_type.dtype if value_type is not None else "f32"


@attrs.define
class Builder:
    """Makes the new ops, with fresh names."""

    names: Names

    def value(self, base: str, dtype: str, shape: Sequence[int], strides: object = None) -> Value:
        return Value(self.names.fresh(base), tensor(dtype, *shape, strides=strides))  # type: ignore[arg-type]

    def view(self, source: Value, result: Value, loc: Loc) -> Op:
        shape = list(static_shape(result) or ())
        return make_op("aten.view.default", [source], [result], {"size": shape}, loc=loc)

    def slice(self, source: Value, result: Value, dim: int, start: int, end: int, loc: Loc) -> Op:
        attributes: dict[str, object] = {"dim": dim, "start": start, "end": end, "step": 1}
        return make_op("aten.slice.Tensor", [source], [result], attributes, loc=loc)

    def cat(self, pieces: Sequence[Value], result: Value, dim: int, loc: Loc) -> Op:
        return make_op("aten.cat.default", [list(pieces)], [result], {"dim": dim}, loc=loc)


# --- gather sites -------------------------------------------------------------------------------


def _hoist(ops: Sequence[Op], value: Value, point: int, uses: Uses) -> list[int] | None:
    """The view ops (in program order) that make ``value`` from values defined before
    ``point``, to move up to ``point``; None when something else makes it."""
    index = uses.definer.get(value.name)
    if index is None or index < point:
        return []
    op = ops[index]
    sources = list(op.operand_values())
    if not is_view(op) or len(sources) != 1:
        return None
    below = _hoist(ops, sources[0], point, uses)
    return None if below is None else [*below, index]


def gather_edit(
    ops: Sequence[Op], site: GatherSite, chunks: int, uses: Uses, builder: Builder
) -> Edit | None:
    """The chunked form of a gather site (module docstring), or None when it cannot be split
    into ``chunks``."""
    rows, width = site.rows, site.width
    if chunks < 2 or rows % chunks:
        return None
    gather, wait = ops[site.gather], ops[site.wait]
    assert isinstance(gather, AllGatherOp)
    ranks, piece = gather.size, rows // chunks
    point = min(site.matmuls + site.others)
    hoisted: list[int] = []
    chunked: list[int] = []
    for mm in site.matmuls:
        moved = _hoist(ops, list(ops[mm].operand_values())[1], point, uses)
        if moved is None:
            continue
        hoisted += [index for index in moved if index not in hoisted]
        chunked.append(mm)
    if not chunked:
        return None
    others = sorted(set(site.others) | set(site.matmuls) - set(chunked))
    dtype = _dtype(gather.input)
    start = _gather_start(gather, rows, width, chunks, builder)
    waits = [
        builder.value(f"{wait.results[0].name}.c{j}", dtype, [ranks * piece, width])
        for j in range(chunks)
    ]
    at_point: list[Op] = [ops[index] for index in sorted(hoisted)]
    outputs: dict[int, list[Value]] = {mm: [] for mm in chunked}
    for j in range(chunks):
        at_point.append(make_op(WaitOp.OP_NAME, [start[-1][j]], [waits[j]], loc=wait.loc))
        for mm in chunked:
            op = ops[mm]
            columns = static_shape(op.results[0])[1]  # type: ignore[index]
            out = builder.value(f"{op.results[0].name}.c{j}", dtype, [ranks * piece, columns])
            weight = list(op.operand_values())[1]
            at_point.append(make_op(op.name, [waits[j], weight], [out], loc=op.loc))
            outputs[mm].append(out)
    for mm in chunked:
        at_point += _rebuild_rows(outputs[mm], ops[mm].results[0], ranks, ops[mm].loc, builder)
    if others:
        at_point += _rebuild_rows(waits, wait.results[0], ranks, wait.loc, builder)
        at_point += [ops[i] for i in _needed_views(ops, site, others, uses)]
    removed = {site.gather, site.wait, *site.views, *chunked, *hoisted}
    before = {site.gather: tuple(start[0]), point: tuple(at_point)}
    return Edit(frozenset(removed), before)


def _gather_start(
    gather: AllGatherOp, rows: int, width: int, chunks: int, builder: Builder
) -> tuple[list[Op], list[Value]]:
    """Slices of the shard ``[rows, width]`` and their all-gathers (ops, gathered values)."""
    dtype, loc, ranks = _dtype(gather.input), gather.loc, gather.size
    piece = rows // chunks
    ops: list[Op] = []
    source = gather.input
    if static_shape(source) != (rows, width):
        flat = builder.value(f"{gather.result.name}.rows", dtype, [rows, width])
        ops.append(builder.view(source, flat, loc))
        source = flat
    gathered = []
    for j in range(chunks):
        part = builder.value(f"{gather.result.name}.in{j}", dtype, [piece, width])
        ops.append(builder.slice(source, part, 0, j * piece, (j + 1) * piece, loc))
        out = builder.value(f"{gather.result.name}.c{j}", dtype, [ranks * piece, width])
        ops.append(make_op(AllGatherOp.OP_NAME, [part], [out], gather.attributes, loc=loc))
        gathered.append(out)
    return ops, gathered


def _rebuild_rows(
    chunks: Sequence[Value], result: Value, ranks: int, loc: Loc, builder: Builder
) -> list[Op]:
    """``result`` (rank-major rows) from row chunks ``[ranks x piece, width]``: each viewed
    ``[ranks, piece, width]``, joined along dim 1, viewed as ``result``."""
    dtype = _dtype(result)
    piece_rows, width = static_shape(chunks[0])  # type: ignore[misc]
    piece = piece_rows // ranks
    ops: list[Op] = []
    blocks = []
    for chunk in chunks:
        block = builder.value(f"{chunk.name}.blocks", dtype, [ranks, piece, width])
        ops.append(builder.view(chunk, block, loc))
        blocks.append(block)
    joined = builder.value(f"{result.name}.joined", dtype, [ranks, piece * len(chunks), width])
    ops.append(builder.cat(blocks, joined, 1, loc))
    ops.append(builder.view(joined, result, loc))
    return ops


def _needed_views(
    ops: Sequence[Op], site: GatherSite, others: Sequence[int], uses: Uses
) -> list[int]:
    """The site's views that an op in ``others`` reads, directly or through other views."""
    needed: set[int] = set()
    frontier = [v for i in others for v in ops[i].operand_values()]
    views = set(site.views)
    while frontier:
        index = uses.definer.get(frontier.pop().name)
        if index in views and index not in needed:
            needed.add(index)
            frontier.extend(ops[index].operand_values())
    return sorted(needed)


# --- scatter sites ------------------------------------------------------------------------------


def scatter_edit(
    ops: Sequence[Op], site: ScatterSite, chunks: int, builder: Builder
) -> Edit | None:
    """The chunked form of a scatter site (module docstring), or None when it cannot be split
    into ``chunks``."""
    columns = site.columns
    if chunks < 2 or columns % chunks:
        return None
    scatter, wait = ops[site.scatter], ops[site.wait]
    assert isinstance(scatter, ReduceScatterOp)
    width = columns // chunks
    dtype = _dtype(scatter.input)
    rows = site.rows // scatter.size
    start: list[Op] = []
    scattered: list[Value] = []
    slices: dict[tuple[str, int], Value] = {}
    for j in range(chunks):
        top = _chunk_product(ops, site.tree, j, width, start, builder, slices)
        out = builder.value(f"{scatter.result.name}.c{j}", dtype, [rows, width])
        start.append(
            make_op(ReduceScatterOp.OP_NAME, [top], [out], scatter.attributes, loc=scatter.loc)
        )
        scattered.append(out)
    finish: list[Op] = []
    waited = []
    for j, value in enumerate(scattered):
        out = builder.value(f"{wait.results[0].name}.c{j}", dtype, [rows, width])
        finish.append(make_op(WaitOp.OP_NAME, [value], [out], loc=wait.loc))
        waited.append(out)
    joined = builder.value(f"{wait.results[0].name}.joined", dtype, [rows, columns])
    finish.append(builder.cat(waited, joined, 1, wait.loc))
    finish.append(builder.view(joined, wait.results[0], wait.loc))
    removed = {site.scatter, site.wait, *site.removed}
    return Edit(frozenset(removed), {site.scatter: tuple(start), site.wait: tuple(finish)})


def _chunk_product(
    ops: Sequence[Op],
    tree: Product,
    j: int,
    width: int,
    out: list[Op],
    builder: Builder,
    slices: dict[tuple[str, int], Value],
) -> Value:
    """Column chunk ``j`` of a product tree, its ops appended to ``out``; ``slices`` holds the
    weight slices made so far (one per weight and chunk)."""
    if isinstance(tree, SumNode):
        left = _chunk_product(ops, tree.left, j, width, out, builder, slices)
        right = _chunk_product(ops, tree.right, j, width, out, builder, slices)
        add = ops[tree.add]
        result = builder.value(
            f"{add.results[0].name}.c{j}", _dtype(left), static_shape(left) or ()
        )
        out.append(make_op("aten.add.Tensor", [left, right], [result], loc=add.loc))
        return result
    assert isinstance(tree, Leaf)
    mm = ops[tree.mm]
    left, weight = list(mm.operand_values())
    weight_type = tensor_type(weight)
    assert weight_type is not None
    inner, _ = static_shape(weight)  # type: ignore[misc]
    part = slices.get((weight.name, j))
    if part is None:
        strides = weight_type.strides or (static_shape(weight)[1], 1)  # type: ignore[index]
        part = builder.value(f"{weight.name}.cols{j}", weight_type.dtype, [inner, width], strides)
        out.append(builder.slice(weight, part, 1, j * width, (j + 1) * width, mm.loc))
        slices[(weight.name, j)] = part
    rows = static_shape(mm.results[0])[0]  # type: ignore[index]
    result = builder.value(f"{mm.results[0].name}.c{j}", _dtype(mm.results[0]), [rows, width])
    out.append(make_op(mm.name, [left, part], [result], loc=mm.loc))
    return result


def scatter_matmuls(site: ScatterSite) -> list[int]:
    return leaves(site.tree)
