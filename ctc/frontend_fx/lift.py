"""FX GraphModule -> an IR function, node by node, in graph order (see ``ctc.frontend_fx`` for the
conventions). Every node becomes IR or a ``CtcError`` that names it: nothing is dropped."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import torch
import torch.fx as fx

from ctc.errors import CtcError
from ctc.frontend_fx.boundary import arg_attributes, is_tangent, result_attributes
from ctc.frontend_fx.fx_types import type_of
from ctc.frontend_fx.groups import MeshLayout
from ctc.frontend_fx.meta import loc_of
from ctc.frontend_fx.targets import constant_op, describe, mentions_node, op_name
from ctc.ir.attributes import Attribute, DictAttr, ListAttr, TagAttr, to_attr
from ctc.ir.core import Block, Func, Op, Operand, Value, make_operand
from ctc.ir.ops import TORCH_COLLECTIVES, AllGatherOp, ReduceScatterOp, WaitOp, make_op
from ctc.ir.types import NoneType, Type
from ctc.torch_types import tag_of


class _Scope:
    """The lifting state of one FX graph: the function body or one sub-graph region."""

    def __init__(self, module: fx.GraphModule) -> None:
        self.module = module
        self.values: dict[fx.Node, Value] = {}
        self.subgraphs: dict[fx.Node, fx.GraphModule] = {}
        self.taken = {node.name for node in module.graph.nodes}
        self.ops: list[Op] = []
        self.pending: set[str] = set()  # collective results not waited yet

    def fresh(self, name: str) -> str:
        candidate, count = name, 0
        while candidate in self.taken:
            count += 1
            candidate = f"{name}_{count}"
        self.taken.add(candidate)
        return candidate


class Lifter:
    """Lifts graphs with one mesh layout (which resolves collective process groups)."""

    def __init__(self, layout: MeshLayout | None, seq_base: int = 0) -> None:
        self.layout = layout
        self.seq_base = seq_base

    def function(
        self, module: fx.GraphModule, name: str, saved: Mapping[str, int] | None = None
    ) -> Func:
        """``saved``: for a backward graph, the names of the values the forward saved and their
        ``SavedForBackwardsAOTOutput`` index (those arguments get ``saved = i``)."""
        scope = _Scope(module)
        args: list[Value] = []
        arg_attrs: list[DictAttr] = []
        tangents = 0
        outputs: list[Operand] = []
        result_types: list[Type] = []
        result_attrs: list[DictAttr] = []
        for node in module.graph.nodes:
            if node.op == "placeholder":
                value = Value(node.name, self._type(node))
                scope.values[node] = value
                desc = node.meta.get("desc")
                attributes = arg_attributes(desc, value.type, tangents)
                tangents += is_tangent(desc)
                if saved and node.name in saved:
                    attributes["saved"] = saved[node.name]
                args.append(value)
                arg_attrs.append(DictAttr.of(attributes))
            elif node.op == "output":
                items = node.args[0] if isinstance(node.args[0], list | tuple) else [node.args[0]]
                descs = node.meta.get("desc") or [None] * len(items)
                if len(descs) != len(items):
                    raise CtcError(
                        f"the output node has {len(descs)} descriptors for {len(items)} values"
                    )
                for item, desc in zip(items, descs, strict=True):
                    operand = self._operand(item, scope, node)
                    value_type = operand.type if isinstance(operand, Value) else NoneType()
                    if not isinstance(operand, Value) and item is not None:
                        raise CtcError(f"{describe(node)} returns a constant {item!r}")
                    outputs.append(operand)
                    result_types.append(value_type)
                    result_attrs.append(DictAttr.of(result_attributes(desc, value_type)))
            else:
                self._node(node, scope)
        scope.ops.append(make_op("ctc.return", outputs))
        return Func(
            name=name,
            body=Block(tuple(scope.ops), tuple(args)),
            result_types=tuple(result_types),
            arg_attrs=tuple(arg_attrs),
            result_attrs=tuple(result_attrs),
        )

    def region(self, module: fx.GraphModule) -> Block:
        """A sub-graph of a higher-order op: its placeholders are the block arguments, and it
        ends in ``ctc.yield`` (with ``sequence = "list"`` or ``"tuple"`` when it returns one, so
        lowering rebuilds the exact structure: vmap and autograd compare it)."""
        scope = _Scope(module)
        args: list[Value] = []
        for node in module.graph.nodes:
            if node.op == "placeholder":
                value = Value(node.name, self._type(node))
                scope.values[node] = value
                args.append(value)
            elif node.op == "output":
                result = node.args[0]
                is_sequence = isinstance(result, list | tuple)
                items = list(result) if is_sequence else [result]
                operands = [self._operand(item, scope, node) for item in items]
                attributes: dict[str, object] = (
                    {"sequence": "list" if isinstance(result, list) else "tuple"}
                    if is_sequence
                    else {}
                )
                scope.ops.append(make_op("ctc.yield", operands, attributes=attributes))
            else:
                self._node(node, scope)
        return Block(tuple(scope.ops), tuple(args))

    # --- nodes ------------------------------------------------------------------------------

    def _node(self, node: fx.Node, scope: _Scope) -> None:
        if node.op == "get_attr":
            self._get_attr(node, scope)
        elif node.op != "call_function":
            raise CtcError(f"{describe(node)}: the IR holds call_function graphs only")
        elif node in scope.values:
            return  # a getitem of a multi-result op: already that op's result
        elif isinstance(node.target, torch._ops.OpOverload):
            if node.target.namespace == "_c10d_functional":
                self._collective(node, scope)
            else:
                self._aten(node, scope)
        elif isinstance(node.target, torch._ops.HigherOrderOperator):
            self._higher_order(node, scope)
        elif callable(node.target):
            self._python(node, scope)
        else:
            raise CtcError(f"{describe(node)}: unknown call target")

    def _emit(
        self,
        node: fx.Node,
        scope: _Scope,
        name: str,
        operands: list[Any],
        attributes: dict[str, Any],
        regions: list[Block] | None = None,
        results: list[Value] | None = None,
    ) -> None:
        if results is None:
            results = self._results(node, scope)
        try:
            op = make_op(
                name, operands, results, attributes, regions or (), loc_of(node, self.seq_base)
            )
        except (TypeError, ValueError) as error:
            raise CtcError(f"{describe(node)}: {error}") from None
        scope.ops.append(op)

    def _aten(self, node: fx.Node, scope: _Scope) -> None:
        operands: list[Any] = []
        attributes: dict[str, Any] = {}
        for argument_name, value in self._bind(node).items():
            if mentions_node(value):
                operands.append(self._operand(value, scope, node))
            else:
                attributes[argument_name] = self._constant(value, node)
        self._emit(node, scope, op_name(node.target), operands, attributes)

    def _bind(self, node: fx.Node) -> dict[str, Any]:
        """The node's arguments by schema name, in schema order; defaults left out."""
        assert isinstance(node.target, torch._ops.OpOverload)
        schema = node.target._schema
        kwargs = dict(node.kwargs)
        positional = [a for a in schema.arguments if not a.kwarg_only]
        if len(node.args) > len(positional):
            raise CtcError(f"{describe(node)} has more arguments than its schema {schema}")
        bound: dict[str, Any] = {}
        for index, argument in enumerate(schema.arguments):
            if index < len(node.args) and not argument.kwarg_only:
                bound[argument.name] = node.args[index]
            elif argument.name in kwargs:
                bound[argument.name] = kwargs.pop(argument.name)
        if kwargs:
            raise CtcError(f"{describe(node)} has arguments {sorted(kwargs)} outside its schema")
        return bound

    def _collective(self, node: fx.Node, scope: _Scope) -> None:
        assert isinstance(node.target, torch._ops.OpOverload)
        kind = node.target._opname
        cls = TORCH_COLLECTIVES.get(kind)
        if cls is None:
            raise CtcError(
                f"{describe(node)}: the IR has no collective for {kind} "
                f"(it has {', '.join(sorted(TORCH_COLLECTIVES))})"
            )
        bound = self._bind(node)
        source = self._operand(next(iter(bound.values())), scope, node)
        if cls is WaitOp:
            # A wait on an already-waited tensor (expert-parallel graphs hold some) is a no-op
            # that coll.wait cannot express: it stays the plain op.
            waits_collective = isinstance(source, Value) and source.name in scope.pending
            scope.pending.discard(source.name if isinstance(source, Value) else "")
            name = WaitOp.OP_NAME if waits_collective else op_name(node.target)
            self._emit(node, scope, name, [source], {})
            return
        group_name = bound.get("group_name")
        if not isinstance(group_name, str):
            raise CtcError(f"{describe(node)}: process group {group_name!r} is not a name")
        if self.layout is None:
            raise CtcError(
                f"{describe(node)} runs on process group '{group_name}', but no mesh was given"
            )
        dims = self.layout.resolve(group_name)
        size = self.layout.size_of(dims)
        given = bound.get("group_size")
        if given is not None and given != size:
            raise CtcError(
                f"{describe(node)} runs on {given} ranks, but process group '{group_name}' "
                f"resolves to {'+'.join(dims)} of {size} ranks"
            )
        attributes: dict[str, Any] = {"group": dims[0] if len(dims) == 1 else list(dims)}
        attributes["size"] = size
        if cls in (AllGatherOp, ReduceScatterOp):
            attributes["dim"] = 0
        if "reduce_op" in bound:
            attributes["reduce_op"] = self._constant(bound["reduce_op"], node)
        operands: list[Any] = [source]
        for key in ("output_split_sizes", "input_split_sizes"):
            if key not in bound:
                continue
            if mentions_node(bound[key]):
                operands.append(self._operand(bound[key], scope, node))
            else:
                attributes[key] = self._constant(bound[key], node)
        self._emit(node, scope, cls.OP_NAME, operands, attributes)
        scope.pending.add(node.name)

    def _higher_order(self, node: fx.Node, scope: _Scope) -> None:
        regions: list[Block] = []
        operands = [self._operand(arg, scope, node, regions) for arg in node.args]
        attributes = {key: self._constant(v, node) for key, v in node.kwargs.items()}
        self._emit(node, scope, op_name(node.target), operands, attributes, regions)

    def _python(self, node: fx.Node, scope: _Scope) -> None:
        try:
            name = op_name(node.target)
        except CtcError as error:
            raise CtcError(f"{describe(node)}: {error}") from None
        operands = [self._operand(arg, scope, node) for arg in node.args]
        attributes = {key: self._constant(v, node) for key, v in node.kwargs.items()}
        self._emit(node, scope, name, operands, attributes)

    def _get_attr(self, node: fx.Node, scope: _Scope) -> None:
        assert isinstance(node.target, str)
        held: Any = scope.module
        for part in node.target.split("."):
            held = getattr(held, part)
        if isinstance(held, fx.GraphModule):
            scope.subgraphs[node] = held
        elif isinstance(held, torch.Tensor):
            name, operands, attributes = constant_op(held, node)
            scope.values[node] = Value(node.name, type_of(held))
            self._emit(node, scope, name, operands, attributes, results=[scope.values[node]])
        else:
            raise CtcError(
                f"{describe(node)} reads a {type(held).__name__}, which the IR cannot hold"
            )

    # --- values -----------------------------------------------------------------------------

    def _type(self, node: fx.Node) -> Type:
        if "val" not in node.meta:
            raise CtcError(f"{describe(node)} has no meta['val'] to type it by")
        try:
            return type_of(node.meta["val"])
        except TypeError as error:
            raise CtcError(f"{describe(node)}: {error}") from None

    def _results(self, node: fx.Node, scope: _Scope) -> list[Value]:
        """One value per output; a tuple-valued node's outputs are named after their getitem
        users (which disappear), unused ones ``{node}_{i}``."""
        if "val" not in node.meta or node.meta["val"] is None:
            if node.users:
                raise CtcError(f"{describe(node)} is used but has no meta['val'] to type it by")
            return []
        value = node.meta["val"]
        if not isinstance(value, list | tuple):
            scope.values[node] = Value(node.name, self._type(node))
            return [scope.values[node]]
        by_index: dict[int, list[fx.Node]] = {}
        for user in node.users:
            if user.target is not operator.getitem or not isinstance(user.args[1], int):
                raise CtcError(
                    f"{describe(node)} returns {len(value)} values but {describe(user)} uses "
                    "them together; the IR needs each through operator.getitem"
                )
            by_index.setdefault(user.args[1] % len(value), []).append(user)
        results = []
        for index, item in enumerate(value):
            getitems = by_index.get(index, [])
            name = getitems[0].name if getitems else scope.fresh(f"{node.name}_{index}")
            try:
                item_type: Type = type_of(item)
            except TypeError:
                if getitems:
                    raise CtcError(
                        f"{describe(getitems[0])} takes output {index} of {describe(node)}, a "
                        f"{type(item).__name__}, which the IR cannot type"
                    ) from None
                item_type = NoneType()
            result = Value(name, item_type)
            for getitem in getitems:
                scope.values[getitem] = result
            results.append(result)
        return results

    def _operand(
        self, value: Any, scope: _Scope, node: fx.Node, regions: list[Block] | None = None
    ) -> Operand:
        if isinstance(value, fx.Node):
            if value in scope.values:
                return scope.values[value]
            if value in scope.subgraphs and regions is not None:
                regions.append(self.region(scope.subgraphs[value]))
                return TagAttr("region", str(len(regions) - 1))
            raise CtcError(f"{describe(node)} uses {describe(value)}, which has no IR value")
        if isinstance(value, list | tuple):
            return make_operand([self._operand(item, scope, node, regions) for item in value])
        if isinstance(value, dict) and mentions_node(value):
            raise CtcError(
                f"{describe(node)} passes values inside a dict, which the IR cannot hold"
            )
        return self._constant(value, node)

    def _constant(self, value: Any, node: fx.Node) -> Attribute:
        tag = tag_of(value)
        if tag is not None:
            return tag
        if isinstance(value, list | tuple):
            return ListAttr(tuple(self._constant(item, node) for item in value))
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return DictAttr.of({k: self._constant(v, node) for k, v in value.items()})
        if value is None or isinstance(value, bool | int | float | str):
            return to_attr(value)
        raise CtcError(
            f"{describe(node)} has an argument the IR cannot hold: {value!r} "
            f"(a {type(value).__name__})"
        )


def lift_function(
    module: fx.GraphModule,
    name: str,
    layout: MeshLayout | None,
    saved: Mapping[str, int] | None = None,
    seq_base: int = 0,
) -> Func:
    """Lifts one captured graph into the function ``@name``; sequence numbers count from
    ``seq_base``."""
    return Lifter(layout, seq_base).function(module, name, saved)
