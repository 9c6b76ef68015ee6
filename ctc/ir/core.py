"""The IR's structure: values, operations, blocks, functions and the module.

Everything is immutable (``attrs.frozen``); a pass builds a new module. Equality is structural, so
``parse(print(m)) == m`` is an ordinary ``==``. Order inside a block is meaning: collective issue
order and overlap live in it, so a block is an ordered tuple of ops in SSA form.

An operand is a value, a list of operands (``aten.cat`` takes ``[%a, %b]``), or a literal where
position matters (``ctc.return(%loss, none)``). Constant arguments of aten ops are attributes
named after their schema argument. Results carry their names: the printer never renumbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from ctc.ir.attributes import Attribute, DictAttr, to_attr
from ctc.ir.types import Type

if TYPE_CHECKING:
    from ctc.ir.verifier import Problem


@attrs.frozen
class Value:
    """An SSA value: a name (without the ``%``) and a type."""

    name: str
    type: Type

    def __str__(self) -> str:
        return f"%{self.name}"


@attrs.frozen
class OperandList:
    """A list argument that mentions at least one value, e.g. the tensors of ``aten.cat``."""

    items: tuple[Operand, ...]


Operand = Value | OperandList | Attribute


def operand_values(operand: Operand) -> Iterator[Value]:
    """The values an operand mentions, in order."""
    if isinstance(operand, Value):
        yield operand
    elif isinstance(operand, OperandList):
        for item in operand.items:
            yield from operand_values(item)


def _mentions_value(item: Operand) -> bool:
    return next(operand_values(item), None) is not None


def make_operand(item: object) -> Operand:
    """Turns a value, a (nested) list, or a plain constant into an operand, canonically: a list
    that mentions no value is a ``ListAttr`` literal."""
    if isinstance(item, Value | OperandList):
        return item
    if isinstance(item, list | tuple):
        items = tuple(make_operand(x) for x in item)
        if any(_mentions_value(x) for x in items):
            return OperandList(items)
    return to_attr(item)


@attrs.frozen
class Loc:
    """Where an op came from and what later stages need to know about it (MLIR's ``loc``).

    module: the module path of the op (``layers.0.attention.wq``); phase: ``fwd`` or ``bwd``;
    seq: the autograd sequence number pairing forward and backward ops; recompute: the
    activation-checkpoint policy (``must_recompute``, ``prefer_save``, ...); ac_graph_id: the
    checkpoint region; annotations: user annotations (``torch.fx.traceback.annotate``).
    """

    module: str | None = None
    phase: str | None = None
    seq: int | None = None
    recompute: str | None = None
    ac_graph_id: int | None = None
    annotations: DictAttr | None = None

    FIELDS: ClassVar[tuple[str, ...]] = (
        "ac_graph_id",
        "annotations",
        "module",
        "phase",
        "recompute",
        "seq",
    )

    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in self.FIELDS)


UNKNOWN_LOC = Loc()

# The stages of a training step. Each is a function of the module named after it: ``@joint`` (the
# joint forward and backward graph), ``@fwd`` and ``@bwd`` (the graphs partitioned from it).
STAGES = ("joint", "fwd", "bwd")


@attrs.frozen
class Block:
    """An ordered list of ops with optional arguments (the parameters of a sub-graph)."""

    ops: tuple[Op, ...] = ()
    args: tuple[Value, ...] = ()


@attrs.frozen
class Op:
    """One operation. Subclasses (registered in ``ctc.ir.ops``) add typed accessors and checks;
    every op shares this generic structure and the one generic text syntax."""

    name: str
    operands: tuple[Operand, ...] = ()
    results: tuple[Value, ...] = ()
    attributes: DictAttr = attrs.field(factory=DictAttr)
    regions: tuple[Block, ...] = ()
    loc: Loc = UNKNOWN_LOC

    # Whether nested regions see the values of the enclosing block (a grouping region) or only
    # their own block arguments (a sub-graph of a higher-order op).
    TRANSPARENT_REGIONS: ClassVar[bool] = False

    def attr(self, key: str) -> Attribute | None:
        return self.attributes.get(key)

    def operand_values(self) -> Iterator[Value]:
        for operand in self.operands:
            yield from operand_values(operand)

    @property
    def result(self) -> Value:
        """The single result; raises if the op has another number of results."""
        if len(self.results) != 1:
            raise ValueError(f"{self.name} has {len(self.results)} results, not 1")
        return self.results[0]

    def verify(self) -> list[Problem]:
        """Checks of this op family; the module verifier adds the structural ones."""
        return []

    def replace(self, **changes: Any) -> Op:
        return attrs.evolve(self, **changes)


@attrs.frozen
class Func:
    """A function: its arguments (with descriptor attributes such as ``param = "fqn"``), the types
    and descriptors of its results, and a body that ends with ``ctc.return``."""

    name: str
    body: Block
    result_types: tuple[Type, ...] = ()
    arg_attrs: tuple[DictAttr, ...] = ()
    result_attrs: tuple[DictAttr, ...] = ()
    attributes: DictAttr = attrs.field(factory=DictAttr)

    @property
    def args(self) -> tuple[Value, ...]:
        return self.body.args

    @property
    def ops(self) -> tuple[Op, ...]:
        return self.body.ops

    def with_ops(self, ops: tuple[Op, ...] | list[Op]) -> Func:
        return attrs.evolve(self, body=Block(tuple(ops), self.body.args))


@attrs.frozen
class Module:
    """The top level: functions (``@joint``, or ``@fwd`` and ``@bwd``) and module attributes such
    as the device mesh, ``mesh = [["dp_shard", 2], ["tp", 4]]``."""

    functions: tuple[Func, ...] = ()
    attributes: DictAttr = attrs.field(factory=DictAttr)

    def function(self, name: str) -> Func:
        for func in self.functions:
            if func.name == name:
                return func
        known = ", ".join("@" + f.name for f in self.functions) or "none"
        raise KeyError(f"no function @{name} in the module (functions: {known})")

    def with_function(self, func: Func) -> Module:
        functions = tuple(func if f.name == func.name else f for f in self.functions)
        return attrs.evolve(self, functions=functions)

    @property
    def mesh(self) -> tuple[tuple[str, int], ...]:
        """The device mesh as ordered (dimension name, size) pairs; empty when absent."""
        mesh = self.attributes.get("mesh")
        if mesh is None:
            return ()
        pairs: Any = mesh.py
        return tuple((str(name), int(size)) for name, size in pairs)

    def __str__(self) -> str:
        from ctc.ir.printer import print_module

        return print_module(self)


def walk_ops(ops: tuple[Op, ...]) -> Iterator[Op]:
    """Every op in ``ops`` and, depth first, every op nested in their regions (in text order,
    with an explicit stack: regions of any depth)."""
    stack: list[Iterator[Op]] = [iter(ops)]
    while stack:
        op = next(stack[-1], None)
        if op is None:
            stack.pop()
            continue
        yield op
        stack += [iter(region.ops) for region in reversed(op.regions)]
