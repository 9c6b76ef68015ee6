"""IR -> torch.fx: builds a GraphModule from a function of the IR alone.

Guarantees: one FX node per IR op (plus an ``operator.getitem`` per result of a multi-result
op that something reads), in IR order, named after the op's results; placeholders named and ordered as the function's
arguments; higher-order ops' regions become sub-GraphModules reached by ``get_attr``; transparent
``ctc.region`` ops are flattened, each node recording its enclosing regions in
``meta["ctc_regions"]`` as (kind, name) pairs, outermost first. What inductor and the partitioner
read is restored from each op's ``loc``: ``seq_nr``, ``recompute``, ``ac_graph_id``,
``custom`` (annotations), ``partitioner_tag`` (phase) and ``ctc_module`` (module path).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import torch
import torch.fx as fx
from torch.utils.checkpoint import CheckpointPolicy

from ctc.errors import CtcError
from ctc.ir.attributes import Attribute, DictAttr, ListAttr, TagAttr
from ctc.ir.core import Block, Func, Op, Operand, OperandList, Value, walk_ops
from ctc.ir.ops import (
    AllGatherOp,
    AllReduceOp,
    AllToAllOp,
    CollectiveOp,
    DimCollectiveOp,
    ReduceScatterOp,
    RegionOp,
    SplitSizes,
    WaitOp,
)
from ctc.lowering.boundaries import RegionBoundary, region_boundaries
from ctc.lowering.targets import match_schema, resolve_target
from ctc.torch_types import torch_of

GroupNames = Mapping[tuple[str, ...], str]


@attrs.frozen
class OutlinedRegion:
    """What a submodule outlined from a ``ctc.region`` was: its kind, name and attributes."""

    kind: str
    name: str
    attributes: dict[str, Any]
    source: RegionOp = attrs.field(eq=False, repr=False)


# (mesh dimensions, stream) -> the process group of a collective that carries a stream attribute.
StreamGroupNames = Mapping[tuple[tuple[str, ...], str], str]


class _Lowerer:
    def __init__(
        self,
        group_names: GroupNames | None,
        stream_groups: StreamGroupNames | None,
        used: set[str],
        boundaries: Mapping[int, RegionBoundary] | None = None,
    ) -> None:
        self.group_names = dict(group_names or {})
        self.stream_groups = dict(stream_groups or {})
        # Regions to outline (by id of their op), with their inputs and outputs.
        self.boundaries = dict(boundaries or {})
        # Names of the values some op reads: no getitem is made for the others.
        self.used = used
        self.root = torch.nn.Module()
        self.submodule_count = 0

    def lower(self, block: Block, yield_name: str) -> fx.Graph:
        graph = fx.Graph()
        env: dict[str, fx.Node] = {}
        for arg in block.args:
            env[arg.name] = graph.placeholder(arg.name)
        self._ops(block.ops, graph, env, regions=(), yield_name=yield_name)
        return graph

    def _ops(
        self,
        ops: Sequence[Op],
        graph: fx.Graph,
        env: dict[str, fx.Node],
        regions: tuple[tuple[str, str], ...],
        yield_name: str,
    ) -> None:
        for op in ops:
            if isinstance(op, RegionOp) and id(op) in self.boundaries:
                self._outline(op, graph, env, regions)
                continue
            if isinstance(op, RegionOp):
                inner = (*regions, (op.kind, op.region_name))
                self._ops(op.body.ops, graph, env, inner, yield_name)
                continue
            if op.name == yield_name:
                outputs = [self._value(o, env, op) for o in op.operands]
                sequence = op.attr("sequence")
                if yield_name == "ctc.return" or (sequence is not None and sequence.py == "list"):
                    graph.output(outputs)
                elif sequence is None and len(outputs) == 1:
                    graph.output(outputs[0])
                else:
                    graph.output(tuple(outputs))
                continue
            self._op(op, graph, env, regions)

    def _op(
        self,
        op: Op,
        graph: fx.Graph,
        env: dict[str, fx.Node],
        regions: tuple[tuple[str, str], ...],
    ) -> None:
        target = resolve_target(op.name)
        submodules = [self._region(op, index) for index in range(len(op.regions))]
        get_attrs = [graph.get_attr(name) for name in submodules]
        if isinstance(op, CollectiveOp | WaitOp):
            args, kwargs = self._collective_args(op, env)
        elif isinstance(target, torch._ops.OpOverload):
            args, kwargs = self._schema_args(op, target, env)
        else:
            # Higher-order ops take their structured arguments (a BlockMask, extra buffers) as
            # tuples, as FX recorded them.
            sequence = tuple if op.name.startswith("higher_order.") else list
            args = tuple(self._value(o, env, op, get_attrs, sequence) for o in op.operands)
            kwargs = {key: self._attr(value, op, get_attrs) for key, value in op.attributes.entries}
        single = len(op.results) == 1
        name = op.results[0].name if single else None
        node = graph.create_node("call_function", target, args, kwargs, name=name)
        self._meta(node, op, regions)
        if single:
            env[op.results[0].name] = node
            return
        for index, result in enumerate(op.results):
            if result.name not in self.used:
                # No getitem for an element nothing reads: inductor's lowerings of some ops
                # (FlexAttention on the CPU) return fewer elements than the op's schema.
                continue
            item = graph.create_node(
                "call_function", operator.getitem, (node, index), {}, name=result.name
            )
            item.meta.update({k: v for k, v in node.meta.items() if k != "val"})
            env[result.name] = item

    def _outline(
        self,
        op: RegionOp,
        graph: fx.Graph,
        env: dict[str, fx.Node],
        regions: tuple[tuple[str, str], ...],
    ) -> None:
        """The region as a submodule called with its inputs; its outputs come back by index."""
        boundary = self.boundaries[id(op)]
        inner = _Lowerer(self.group_names, self.stream_groups, self.used)
        body = fx.Graph()
        inner_env = {value.name: body.placeholder(value.name) for value in boundary.inputs}
        path = (*regions, (op.kind, op.region_name))
        inner._ops(op.body.ops, body, inner_env, path, yield_name="ctc.return")
        body.output(tuple(inner_env[value.name] for value in boundary.outputs))
        submodule = fx.GraphModule(inner.root, body, class_name=f"ctc_{op.kind}_region")
        submodule.meta["ctc_region"] = OutlinedRegion(op.kind, op.region_name, op.attributes.py, op)
        name = self._attribute_name(f"{op.kind}_{op.region_name}")
        self.root.add_module(name, submodule)
        call = graph.call_module(name, tuple(env[value.name] for value in boundary.inputs))
        call.meta["ctc_regions"] = path
        for index, value in enumerate(boundary.outputs):
            item = graph.create_node(
                "call_function", operator.getitem, (call, index), {}, name=value.name
            )
            env[value.name] = item

    def _attribute_name(self, wanted: str) -> str:
        """A fresh submodule name made of identifier characters."""
        name = re.sub(r"\W", "_", wanted)
        while hasattr(self.root, name):
            self.submodule_count += 1
            name = f"{re.sub(r'_[0-9]+$', '', name)}_{self.submodule_count}"
        return name

    def _region(self, op: Op, index: int) -> str:
        graph = self.lower(op.regions[index], yield_name="ctc.yield")
        # The IR types of the sub-graph's arguments, from which fake values can be made for it
        # (``ctc.lowering.joint.propagate_fake_values``): the frontend types nodes by them.
        for node, arg in zip(
            graph.find_nodes(op="placeholder"), op.regions[index].args, strict=True
        ):
            node.meta["ctc_type"] = arg.type
        name = f"{op.results[0].name if op.results else 'region'}_graph_{index}"
        while hasattr(self.root, name):
            self.submodule_count += 1
            name = f"{name}_{self.submodule_count}"
        self.root.add_module(name, fx.GraphModule(self.root, graph))
        return name

    def _schema_args(
        self, op: Op, target: torch._ops.OpOverload, env: dict[str, fx.Node]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        positional = True
        names = [a.name for a in target._schema.arguments]
        given = {}
        for name, kwarg_only, operand, from_attribute in match_schema(op, target):
            if from_attribute:
                attribute = op.attributes.get(name)
                assert attribute is not None
                given[name] = (kwarg_only, self._attr(attribute, op))
            else:
                assert operand is not None
                given[name] = (kwarg_only, self._value(operand, env, op))
        for name in names:
            if name not in given:
                positional = False
                continue
            kwarg_only, value = given[name]
            if positional and not kwarg_only:
                args.append(value)
            else:
                kwargs[name] = value
        return tuple(args), kwargs

    def _collective_args(
        self, op: CollectiveOp | WaitOp, env: dict[str, fx.Node]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if isinstance(op, WaitOp):
            return (self._value(op.source, env, op),), {}
        source = self._value(op.input, env, op)
        group = self._group(op)
        if isinstance(op, DimCollectiveOp) and op.dim != 0:
            raise CtcError(
                f"cannot lower {op.name} with dim = {op.dim}: torch's functional "
                "collectives work on dim 0"
            )
        if isinstance(op, AllGatherOp):
            return (source, op.size, group), {}
        if isinstance(op, ReduceScatterOp):
            return (source, op.reduce_op, op.size, group), {}
        if isinstance(op, AllReduceOp):
            return (source, op.reduce_op, group), {}
        assert isinstance(op, AllToAllOp)
        output_splits, input_splits = (self._splits(s, env, op) for s in op.split_sizes)
        return (source, output_splits, input_splits, group), {}

    def _splits(self, sizes: SplitSizes, env: dict[str, fx.Node], op: Op) -> Any:
        """Split sizes as FX takes them: ints, nodes for data-dependent ones, or None."""
        if sizes is None or isinstance(sizes, list):
            return sizes
        return self._value(sizes, env, op)

    def _group(self, op: CollectiveOp) -> str:
        """The process group name ``op`` runs on."""
        if op.stream is not None:
            group = self.stream_groups.get((op.group_dims, op.stream))
            if group is None:
                raise CtcError(
                    f"cannot lower {op.name} over {op.group_key} on stream '{op.stream}': no "
                    "process group for that stream (create them with "
                    "ctc.lowering.groups.create_stream_groups)"
                )
        else:
            group = self.group_names.get(op.group_dims)
        if group is None:
            known = ", ".join("+".join(k) for k in self.group_names) or "none given"
            raise CtcError(
                f"cannot lower {op.name} over {op.group_key}: no process group for "
                f"that mesh dimension (groups: {known})"
            )
        return group

    def _value(
        self,
        operand: Operand,
        env: dict[str, fx.Node],
        op: Op,
        get_attrs: Sequence[fx.Node] = (),
        sequence: type = list,
    ) -> Any:
        if isinstance(operand, Value):
            return env[operand.name]
        if isinstance(operand, OperandList):
            return sequence(self._value(i, env, op, get_attrs, sequence) for i in operand.items)
        if isinstance(operand, ListAttr):
            return sequence(self._attr(item, op, get_attrs) for item in operand.items)
        return self._attr(operand, op, get_attrs)

    def _attr(self, attribute: Attribute, op: Op, get_attrs: Sequence[fx.Node] = ()) -> Any:
        if isinstance(attribute, TagAttr):
            if attribute.tag == "region":
                return get_attrs[int(attribute.value)]
            if attribute.tag == "op":
                return resolve_target(attribute.value)
            return torch_of(attribute)
        if isinstance(attribute, ListAttr):
            return [self._attr(item, op, get_attrs) for item in attribute.items]
        if isinstance(attribute, DictAttr):
            return {key: self._attr(value, op, get_attrs) for key, value in attribute.entries}
        return attribute.py

    def _meta(self, node: fx.Node, op: Op, regions: tuple[tuple[str, str], ...]) -> None:
        loc = op.loc
        if loc.seq is not None:
            node.meta["seq_nr"] = loc.seq
        if loc.recompute is not None:
            node.meta["recompute"] = CheckpointPolicy[loc.recompute.upper()]
        if loc.ac_graph_id is not None:
            node.meta["ac_graph_id"] = loc.ac_graph_id
        if loc.annotations is not None:
            node.meta["custom"] = loc.annotations.py
        if loc.phase is not None:
            node.meta["partitioner_tag"] = f"is_{'forward' if loc.phase == 'fwd' else 'backward'}"
        if loc.module is not None:
            node.meta["ctc_module"] = loc.module
        if regions:
            node.meta["ctc_regions"] = regions


def lower_function(
    func: Func,
    group_names: GroupNames | None = None,
    stream_groups: StreamGroupNames | None = None,
    outline: frozenset[str] = frozenset(),
) -> fx.GraphModule:
    """A GraphModule computing ``func``; ``group_names`` maps mesh dimensions to the process
    group names that collectives run on (needed only when ``func`` has collectives), and
    ``stream_groups`` does the same for collectives with a ``stream`` attribute. Regions of the
    kinds in ``outline`` become submodules (``call_module``, the submodule's
    ``meta["ctc_region"]`` an ``OutlinedRegion``) taking the values they read and returning, as
    a tuple, the values read after them; regions nested in them are flattened."""
    boundaries = region_boundaries(func, outline) if outline else None
    used = {value.name for op in walk_ops(func.ops) for value in op.operand_values()}
    lowerer = _Lowerer(group_names, stream_groups, used, boundaries)
    graph = lowerer.lower(func.body, yield_name="ctc.return")
    module = fx.GraphModule(lowerer.root, graph, class_name=f"ctc_{func.name}")
    module.graph.lint()
    return module
