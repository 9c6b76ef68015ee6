"""Where a tensor-parallel collective and its matmul can be split into chunks (``tp_overlap``).

Two patterns, both on a flat op list (``ctc.schedule.graph.flatten``):

- a *gather site*: ``coll.all_gather`` along dim 0 of a contiguous tensor, its ``coll.wait``, the
  contiguous views of the gathered tensor, and the ``aten.mm`` ops whose first operand (the rows)
  is one of those views, ``[M, K]`` with the gathered tensor's elements in order. Row chunk ``j``
  of every rank's shard can be gathered alone and multiplied while chunk ``j + 1`` travels;
- a *scatter site*: ``coll.reduce_scatter`` along dim 0 of a product ``[M, N]`` -- an ``aten.mm``,
  or an ``aten.add.Tensor`` of such products (a backward's gradient summed over two weights) --
  reached through contiguous views, or through ``aten.split`` along a dimension after size-1
  ones and an ``aten.cat`` of the pieces along dim 0 (the same element order). Column chunk ``j``
  of the product (the weight's output features ``j``) can be reduce-scattered while chunk
  ``j + 1`` is computed.

Every value a site removes must be used only inside the site (the product of a scatter site),
or be rebuilt for its other users (the gathered tensor of a gather site). Torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from ctc.ir.attributes import IntAttr
from ctc.ir.core import Op, Value
from ctc.ir.ops import AllGatherOp, ReduceScatterOp, WaitOp
from ctc.schedule.opinfo import tensor_type

# Views whose result lists the source's elements in the same order (contiguous in, contiguous
# out): the gathered rows stay rows.
ORDER_KEEPING_VIEWS = frozenset({"aten.view.default", "aten._unsafe_view.default"})


def static_shape(value: Value) -> tuple[int, ...] | None:
    value_type = tensor_type(value)
    if value_type is None or any(not isinstance(d, int) for d in value_type.shape):
        return None
    return tuple(int(d) for d in value_type.shape)


def is_contiguous(value: Value) -> bool:
    value_type = tensor_type(value)
    return value_type is not None and value_type.strides is None


def _order_keeping(op: Op) -> bool:
    return (
        op.name in ORDER_KEEPING_VIEWS
        and len(op.results) == 1
        and is_contiguous(op.results[0])
        and is_contiguous(next(op.operand_values()))
    )


@attrs.frozen
class Uses:
    """Which flat ops read each value, and which op defines it."""

    readers: dict[str, tuple[int, ...]]
    definer: dict[str, int]

    @classmethod
    def of(cls, ops: Sequence[Op]) -> Uses:
        readers: dict[str, list[int]] = {}
        definer: dict[str, int] = {}
        for index, op in enumerate(ops):
            for value in op.operand_values():
                positions = readers.setdefault(value.name, [])
                if not positions or positions[-1] != index:
                    positions.append(index)
            for result in op.results:
                definer[result.name] = index
        return cls({k: tuple(v) for k, v in readers.items()}, definer)

    def of_value(self, name: str) -> tuple[int, ...]:
        return self.readers.get(name, ())


@attrs.frozen
class GatherSite:
    """A gather site (module docstring): indices into the flat op list."""

    gather: int
    wait: int
    views: tuple[int, ...]  # order-keeping views of the waited tensor, in program order
    matmuls: tuple[int, ...]  # mm ops reading a view (or the waited tensor) as their rows
    others: tuple[int, ...]  # every other op reading the waited tensor or a view
    rows: int  # rows per rank (M / group size)
    width: int  # K


def _mm_rows_operand(op: Op) -> Value | None:
    if op.name != "aten.mm.default":
        return None
    values = list(op.operand_values())
    return values[0] if len(values) == 2 else None


def find_gather_site(ops: Sequence[Op], index: int, uses: Uses) -> GatherSite | None:
    gather = ops[index]
    if not (isinstance(gather, AllGatherOp) and gather.dim == 0 and gather.size >= 2):
        return None
    source_shape = static_shape(gather.input)
    if source_shape is None or not is_contiguous(gather.input):
        return None
    readers = uses.of_value(gather.result.name)
    if len(readers) != 1 or not isinstance(ops[readers[0]], WaitOp):
        return None
    wait = readers[0]
    views: list[int] = []
    matmuls: list[int] = []
    others: list[int] = []
    width: int | None = None
    frontier = [ops[wait].result]
    seen: set[int] = set()
    while frontier:
        value = frontier.pop()
        for reader in uses.of_value(value.name):
            if reader in seen:
                continue
            op = ops[reader]
            rows_operand = _mm_rows_operand(op)
            if _order_keeping(op):
                seen.add(reader)
                views.append(reader)
                frontier.append(op.results[0])
            elif rows_operand is not None and rows_operand.name == value.name:
                shape = static_shape(value)
                if shape is None or len(shape) != 2 or (width is not None and shape[1] != width):
                    seen.add(reader)
                    others.append(reader)
                    continue
                seen.add(reader)
                width = shape[1]
                matmuls.append(reader)
            else:
                seen.add(reader)
                others.append(reader)
    if not matmuls or width is None:
        return None
    numel = 1
    for dim in source_shape:
        numel *= dim
    if numel % width:
        return None
    return GatherSite(
        index, wait, tuple(sorted(views)), tuple(sorted(matmuls)), tuple(sorted(others)),
        numel // width, width,
    )  # fmt: skip


@attrs.frozen
class Leaf:
    """A product that is one ``aten.mm``."""

    mm: int


@attrs.frozen
class Sum:
    """A product that is the ``aten.add.Tensor`` of two products."""

    add: int
    left: Leaf | Sum
    right: Leaf | Sum


Product = Leaf | Sum


def leaves(tree: Product) -> list[int]:
    if isinstance(tree, Leaf):
        return [tree.mm]
    return leaves(tree.left) + leaves(tree.right)


@attrs.frozen
class ScatterSite:
    """A scatter site (module docstring): indices into the flat op list."""

    scatter: int
    wait: int
    removed: tuple[int, ...]  # every op from the products' mms to the scatter's input
    tree: Product
    rows: int  # M
    columns: int  # N


def _single_reader(uses: Uses, value: Value, reader: int) -> bool:
    return uses.of_value(value.name) == (reader,)


def _identity_cat(ops: Sequence[Op], cat: int, uses: Uses) -> tuple[list[int], Value] | None:
    """For ``cat([split(t)...], dim=0)`` that lists ``t``'s elements in order: the split and cat
    indices and ``t``."""
    op = ops[cat]
    dim = op.attr("dim")
    if op.name != "aten.cat.default" or (dim is not None and getattr(dim, "value", None) != 0):
        return None
    pieces = list(op.operand_values())
    definers = {uses.definer.get(p.name) for p in pieces}
    split_index = definers.pop() if len(definers) == 1 else None
    if split_index is None:
        return None
    split = ops[split_index]
    if split.name != "aten.split.Tensor":
        return None
    if [r.name for r in split.results] != [p.name for p in pieces]:
        return None
    if any(not _single_reader(uses, p, cat) for p in pieces):
        return None
    source = next(split.operand_values())
    shape = static_shape(source)
    split_dim = split.attr("dim")
    if shape is None or not isinstance(split_dim, IntAttr) or not is_contiguous(source):
        return None
    axis = split_dim.value % len(shape)
    if any(extent != 1 for extent in shape[:axis]):
        return None
    return [split_index, cat], source


def _product(
    ops: Sequence[Op], value: Value, uses: Uses, consumer: int, site: list[int]
) -> tuple[tuple[int, int], Product] | None:
    """Walks from ``value`` (read only by ``consumer``) back through views to an mm, or an add
    of two such products; records the ops in ``site``; returns the 2D shape and the tree."""
    index = uses.definer.get(value.name)
    if index is None or not _single_reader(uses, value, consumer):
        return None
    op = ops[index]
    if _order_keeping(op):
        site.append(index)
        return _product(ops, next(op.operand_values()), uses, index, site)
    if op.name == "aten.mm.default" and is_contiguous(op.results[0]):
        shape = static_shape(op.results[0])
        if shape is None or len(shape) != 2:
            return None
        site.append(index)
        return (shape[0], shape[1]), Leaf(index)
    alpha = op.attr("alpha")
    operands = list(op.operand_values())
    if op.name != "aten.add.Tensor" or len(operands) != 2 or operands[0].name == operands[1].name:
        return None
    if alpha is not None and getattr(alpha, "value", None) != 1:
        return None
    site.append(index)
    left = _product(ops, operands[0], uses, index, site)
    right = _product(ops, operands[1], uses, index, site)
    if left is None or right is None or left[0] != right[0]:
        return None
    return left[0], Sum(index, left[1], right[1])


def find_scatter_site(ops: Sequence[Op], index: int, uses: Uses) -> ScatterSite | None:
    scatter = ops[index]
    if not (isinstance(scatter, ReduceScatterOp) and scatter.dim == 0 and scatter.size >= 2):
        return None
    readers = uses.of_value(scatter.result.name)
    if scatter.stream is not None or len(readers) != 1 or not isinstance(ops[readers[0]], WaitOp):
        return None
    source = scatter.input
    start = uses.definer.get(source.name)
    if start is None or not _single_reader(uses, source, index):
        return None
    site: list[int] = []
    consumer = index
    cat = _identity_cat(ops, start, uses)
    if cat is not None:
        site.extend(cat[0])
        consumer, source = cat[0][0], cat[1]
    found = _product(ops, source, uses, consumer, site)
    if found is None:
        return None
    (rows, columns), tree = found
    if rows % scatter.size:
        return None
    return ScatterSite(index, readers[0], tuple(sorted(site)), tree, rows, columns)
