"""The dependency graph of a function's ops, and the flat view of a body that scheduling works on.

Regions and reordering: a ``ctc.region`` is transparent grouping (its values are visible after it),
so scheduling first *flattens* the body: every op inside a region becomes a top-level op that
remembers its region path (the regions around it, outermost first). Schedulers order the flat
list, and ``regroup`` re-derives the regions from the paths: consecutive ops with a common path
prefix are wrapped again in copies of those regions (same kind, name and attributes). The
scheduling passes keep compute ops in their relative order and only move communication (and the
data-movement ops tied to it), and a moved op takes the deepest region shared by its neighbours,
so a region's compute stays in one piece. A region that an arbitrary order splits is emitted as
several regions with the same attributes; one whose ops all moved away disappears.

Edges (networkx ``DiGraph`` over flat op indices, ``kind`` on each edge):
- ``data``: the op defining a value -> each op using it;
- ``stream``: consecutive collectives of one stream (a process group, split further by a
  ``stream`` attribute), so every rank issues them in one agreed order (NCCL deadlocks otherwise);
- ``effect``: ops with effects (``aten.copy_``) stay in order among themselves and after the
  earlier readers of what they mutate; ``ctc.return`` comes after every other op.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import networkx as nx

from ctc.ir.attributes import StrAttr
from ctc.ir.core import Block, Func, Op
from ctc.ir.effects import ordered_by_effects
from ctc.ir.ops import CollectiveOp, RegionOp, ReturnOp, WaitOp
from ctc.schedule.opinfo import is_data_movement

RegionPath = tuple[int, ...]


@attrs.frozen
class FlatFunction:
    """A function body with regions flattened: ``ops[i]`` sits inside ``regions[j]`` for every
    ``j`` in ``paths[i]``. ``regions`` keeps the region ops as found (their bodies unused)."""

    ops: tuple[Op, ...]
    paths: tuple[RegionPath, ...]
    regions: tuple[RegionOp, ...]


def flatten(func: Func) -> FlatFunction:
    ops: list[Op] = []
    paths: list[RegionPath] = []
    regions: list[RegionOp] = []

    def visit(body: tuple[Op, ...], path: RegionPath) -> None:
        for op in body:
            if isinstance(op, RegionOp):
                regions.append(op)
                visit(op.body.ops, (*path, len(regions) - 1))
            else:
                ops.append(op)
                paths.append(path)

    visit(func.ops, ())
    return FlatFunction(tuple(ops), tuple(paths), tuple(regions))


def regroup(
    ops: Sequence[Op], paths: Sequence[RegionPath], regions: Sequence[RegionOp]
) -> tuple[Op, ...]:
    """The nested body for flat ``ops`` with their region paths (see the module docstring)."""
    root: list[Op] = []
    open_regions: list[tuple[int, list[Op]]] = []

    def close() -> None:
        region_id, body = open_regions.pop()
        region = regions[region_id].replace(regions=(Block(tuple(body)),))
        (open_regions[-1][1] if open_regions else root).append(region)

    for op, path in zip(ops, paths, strict=True):
        current = tuple(region_id for region_id, _ in open_regions)
        common = 0
        while common < min(len(current), len(path)) and current[common] == path[common]:
            common += 1
        while len(open_regions) > common:
            close()
        for region_id in path[common:]:
            open_regions.append((region_id, []))
        (open_regions[-1][1] if open_regions else root).append(op)
    while open_regions:
        close()
    return tuple(root)


def common_path(first: RegionPath, second: RegionPath) -> RegionPath:
    length = 0
    while length < min(len(first), len(second)) and first[length] == second[length]:
        length += 1
    return first[:length]


def stream_of(op: CollectiveOp) -> str:
    """The FIFO a collective runs on: its process group, split by a ``stream`` attribute (a
    program that gives all-gathers their own communicator, as torch's block bucketing does)."""
    stream = op.attr("stream")
    if isinstance(stream, StrAttr):
        return f"{op.group_key}/{stream.value}"
    return op.group_key


def is_movable(op: Op) -> bool:
    """Whether ``op`` may move with a collective it feeds or is fed by: a data-movement op with no
    effects and no sub-graphs (views, casts, concatenations, copies; ``is_data_movement``).
    Computation -- matmuls, attention, elementwise arithmetic, lookups -- stays where the program
    put it."""
    if isinstance(op, CollectiveOp | WaitOp | RegionOp | ReturnOp) or op.regions:
        return False
    return bool(op.results) and not ordered_by_effects(op) and is_data_movement(op)


class DependencyGraph:
    """Data, stream-order and effect edges between the ops of a flat list (see module docs)."""

    def __init__(self, ops: Sequence[Op]) -> None:
        self.ops = tuple(ops)
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(range(len(self.ops)))
        self.producer: dict[str, int] = {}
        self.users: list[list[int]] = [[] for _ in self.ops]
        last_in_stream: dict[str, int] = {}
        readers: dict[str, list[int]] = {}
        last_effect: int | None = None
        for index, op in enumerate(self.ops):
            for value in op.operand_values():
                source = self.producer.get(value.name)
                if source is not None:
                    self._edge(source, index, "data")
                readers.setdefault(value.name, []).append(index)
            if isinstance(op, CollectiveOp):
                stream = stream_of(op)
                if stream in last_in_stream:
                    self._edge(last_in_stream[stream], index, "stream")
                last_in_stream[stream] = index
            if ordered_by_effects(op):
                if last_effect is not None:
                    self._edge(last_effect, index, "effect")
                for value in op.operand_values():
                    for reader in readers.get(value.name, []):
                        if reader != index:
                            self._edge(reader, index, "effect")
                last_effect = index
            for result in op.results:
                self.producer[result.name] = index
        self._order_effect_readers(readers)
        if self.ops and isinstance(self.ops[-1], ReturnOp):
            final = len(self.ops) - 1
            for index in range(final):
                if self.graph.out_degree(index) == 0:
                    self._edge(index, final, "effect")

    def _edge(self, source: int, target: int, kind: str) -> None:
        if source == target or self.graph.has_edge(source, target):
            return
        self.graph.add_edge(source, target, kind=kind)
        if kind == "data":
            self.users[source].append(target)

    def _order_effect_readers(self, readers: dict[str, list[int]]) -> None:
        """A read after a mutation stays after it."""
        for index, op in enumerate(self.ops):
            if not ordered_by_effects(op):
                continue
            for value in op.operand_values():
                for reader in readers.get(value.name, []):
                    if reader > index:
                        self._edge(index, reader, "effect")

    def predecessors(self, index: int) -> list[int]:
        return sorted(self.graph.predecessors(index))

    def successors(self, index: int) -> list[int]:
        return sorted(self.graph.successors(index))

    def topological_order(self) -> list[int]:
        """A topological order, ties broken by original position (the identity on a valid list)."""
        return list(nx.lexicographical_topological_sort(self.graph))

    def respects(self, order: Sequence[int]) -> bool:
        """Whether ``order`` lists every op once, each after all its predecessors."""
        if sorted(order) != list(range(len(self.ops))):
            return False
        position = {node: rank for rank, node in enumerate(order)}
        return all(position[a] < position[b] for a, b in self.graph.edges)

    def critical_path(
        self, durations: Sequence[float], kinds: tuple[str, ...] = ("data",)
    ) -> float:
        """The longest chain of op durations along edges of ``kinds`` (data edges: what no
        schedule of these ops can beat)."""
        finish = [0.0] * len(self.ops)
        for node in self.topological_order():
            start = 0.0
            for source in self.graph.predecessors(node):
                if self.graph.edges[source, node]["kind"] in kinds:
                    start = max(start, finish[source])
            finish[node] = start + durations[node]
        return max(finish, default=0.0)


def collective_order(ops: Sequence[Op]) -> dict[str, list[Op]]:
    """The collectives of each stream in program order."""
    order: dict[str, list[Op]] = {}
    for op in ops:
        if isinstance(op, CollectiveOp):
            order.setdefault(stream_of(op), []).append(op)
    return order
