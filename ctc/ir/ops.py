"""The op families and their registry.

Any namespaced name (``aten.mm.default``, ``prims.convert_element_type.default``,
``higher_order.flex_attention``) is a ``GenericOp``. The ``ctc`` and ``coll`` namespaces are
reserved for the ops below, each with typed accessors and a ``verify``. The registry is an
explicit table, not an import side effect.

Collectives are the schema: one class per collective, whose accessors (``group_dims``, ``size``,
``dim``, ``reduce_op``, ``split_sizes``, a wait's ``source``) are the only code that reads their
attributes, and ``TORCH_COLLECTIVES`` is the one map between torch's functional collectives and
these classes. Elsewhere code asks ``isinstance(op, AllGatherOp)``, never the op's name (a test
walks ``ctc/`` to enforce it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import attrs

from ctc.ir.attributes import DictAttr, IntAttr, ListAttr, StrAttr
from ctc.ir.core import Block, Loc, Op, Operand, Value, make_operand
from ctc.ir.types import TensorType
from ctc.ir.verifier import Problem

RESERVED_NAMESPACES = ("ctc", "coll")

# Region kinds: a transformer block (from module paths), an inductor region (annotated
# compile_with_inductor), a bucket of collectives, a cudagraph, expert-parallel dispatch/combine.
REGION_KINDS = ("block", "inductor", "bucket", "cudagraph", "ep_dispatch", "ep_combine", "group")

REDUCE_OPS = ("sum", "avg", "min", "max", "product")


def _int_attr(op: Op, key: str) -> int | None:
    value = op.attr(key)
    return value.value if isinstance(value, IntAttr) else None


def _str_attr(op: Op, key: str) -> str | None:
    value = op.attr(key)
    return value.value if isinstance(value, StrAttr) else None


# An all-to-all's split sizes along dim 0 (see ``AllToAllOp.split_sizes``).
SplitSizes = list[int] | Operand | None


def _require(op: Op, checks: Sequence[tuple[bool, str]]) -> list[Problem]:
    return [Problem(message, op) for ok, message in checks if not ok]


@attrs.frozen
class GenericOp(Op):
    """Any aten/prims/higher-order target; its regions are isolated sub-graphs ending in
    ``ctc.yield``."""

    def verify(self) -> list[Problem]:
        _, _, rest = self.name.partition(".")
        return _require(self, [(bool(rest), f"op name '{self.name}' needs a namespace")])


@attrs.frozen
class RegionOp(Op):
    """``ctc.region``: a named group of ops with a kind. Its body runs in place, and its values
    are visible after it, so grouping and ungrouping never rename anything."""

    OP_NAME: ClassVar[str] = "ctc.region"
    TRANSPARENT_REGIONS = True

    @property
    def kind(self) -> str:
        return _str_attr(self, "kind") or ""

    @property
    def region_name(self) -> str:
        return _str_attr(self, "name") or ""

    @property
    def body(self) -> Block:
        return self.regions[0]

    def verify(self) -> list[Problem]:
        kind = self.attr("kind")
        name = self.attr("name")
        return _require(
            self,
            [
                (
                    isinstance(kind, StrAttr) and kind.value in REGION_KINDS,
                    f"ctc.region needs kind = one of {', '.join(repr(k) for k in REGION_KINDS)}, "
                    f"got {kind if kind is not None else 'nothing'}",
                ),
                (isinstance(name, StrAttr), "ctc.region needs a string attribute 'name'"),
                (len(self.regions) == 1, f"ctc.region has one region, got {len(self.regions)}"),
                (not self.results, "ctc.region has no results"),
                (not self.operands, "ctc.region takes no operands"),
                (all(not r.args for r in self.regions), "ctc.region's body takes no arguments"),
            ],
        )


@attrs.frozen
class ReturnOp(Op):
    """``ctc.return``: ends a function; its operands are the function's results."""

    OP_NAME: ClassVar[str] = "ctc.return"

    def verify(self) -> list[Problem]:
        return _require(
            self,
            [
                (not self.results, "ctc.return has no results"),
                (not self.regions, "ctc.return has no regions"),
            ],
        )


@attrs.frozen
class YieldOp(Op):
    """``ctc.yield``: ends the sub-graph of a higher-order op."""

    OP_NAME: ClassVar[str] = "ctc.yield"

    def verify(self) -> list[Problem]:
        return _require(
            self,
            [
                (not self.results, "ctc.yield has no results"),
                (not self.regions, "ctc.yield has no regions"),
            ],
        )


@attrs.frozen
class CollectiveOp(Op):
    """A collective over a process group named by mesh dimension(s): ``group = "dp_shard"`` or
    ``group = ["dp_shard", "tp"]``, with ``size`` the number of ranks in the group. The result is
    pending until ``coll.wait``."""

    OP_NAME: ClassVar[str] = ""

    @property
    def group_dims(self) -> tuple[str, ...]:
        group = self.attr("group")
        if isinstance(group, StrAttr):
            return (group.value,)
        if isinstance(group, ListAttr):
            return tuple(item.value for item in group.items if isinstance(item, StrAttr))
        return ()

    @property
    def group_key(self) -> str:
        """A printable name of the group, the same on every rank."""
        return "+".join(self.group_dims)

    @property
    def size(self) -> int:
        return _int_attr(self, "size") or 0

    @property
    def stream(self) -> str | None:
        """The communicator the collective runs on when not the group's default one (e.g.
        ``fsdp_all_gather``: FSDP all-gathers overlapping reduce-scatters of the same group)."""
        return _str_attr(self, "stream")

    @property
    def input(self) -> Value:
        first = self.operands[0]
        assert isinstance(first, Value)
        return first

    def _common_problems(self) -> list[Problem]:
        group = self.attr("group")
        group_ok = isinstance(group, StrAttr) or (
            isinstance(group, ListAttr)
            and len(group.items) > 0
            and all(isinstance(item, StrAttr) for item in group.items)
        )
        size = self.attr("size")
        return _require(
            self,
            [
                (group_ok, f"{self.name} needs group = a mesh dimension name or a list of them"),
                (
                    isinstance(size, IntAttr) and size.value >= 1,
                    f"{self.name} needs size = the group's rank count (an int >= 1)",
                ),
                (
                    len(self.operands) >= 1
                    and isinstance(self.operands[0], Value)
                    and isinstance(self.operands[0].type, TensorType),
                    f"{self.name} takes a tensor as its first operand",
                ),
                (
                    len(self.results) == 1 and isinstance(self.results[0].type, TensorType),
                    f"{self.name} has one tensor result",
                ),
                (not self.regions, f"{self.name} has no regions"),
                (
                    self.attr("stream") is None or isinstance(self.attr("stream"), StrAttr),
                    f"{self.name} stream must be a string naming a communicator",
                ),
            ],
        )

    def _reduce_op_problems(self) -> list[Problem]:
        reduce_op = _str_attr(self, "reduce_op")
        return _require(
            self,
            [
                (
                    reduce_op in REDUCE_OPS,
                    f"{self.name} needs reduce_op = one of {', '.join(REDUCE_OPS)}",
                )
            ],
        )


@attrs.frozen
class DimCollectiveOp(CollectiveOp):
    """A collective that concatenates or splits its input along ``dim``."""

    @property
    def dim(self) -> int:
        """The dimension gathered or scattered (0 when the attribute is absent)."""
        return _int_attr(self, "dim") or 0


def _reduce_op(op: CollectiveOp) -> str:
    return _str_attr(op, "reduce_op") or "sum"


def _shape_problem(op: CollectiveOp, expected: tuple[int | str, ...]) -> list[Problem]:
    result = op.results[0].type
    source = op.input.type
    assert isinstance(result, TensorType) and isinstance(source, TensorType)
    checks = [
        (
            result.dtype == source.dtype,
            f"{op.name} result dtype {result.dtype} differs from its input's {source.dtype}",
        ),
        (
            result.shape == expected,
            f"{op.name} over {op.size} ranks of {source} gives shape "
            f"[{','.join(str(d) for d in expected)}], but the result is {result}",
        ),
    ]
    return _require(op, checks)


def _scaled_shape(op: DimCollectiveOp, factor: int, divide: bool) -> tuple[int | str, ...] | None:
    source = op.input.type
    assert isinstance(source, TensorType)
    dim = op.dim
    if not -len(source.shape) <= dim < len(source.shape):
        return None
    dim %= len(source.shape)
    shape = list(source.shape)
    extent = shape[dim]
    if isinstance(extent, int):
        if divide and extent % factor:
            return None
        shape[dim] = extent // factor if divide else extent * factor
    else:
        return tuple(op.results[0].type.shape)  # type: ignore[union-attr]
    return tuple(shape)


@attrs.frozen
class AllGatherOp(DimCollectiveOp):
    """``coll.all_gather``: concatenates every rank's input along ``dim`` (default 0)."""

    OP_NAME: ClassVar[str] = "coll.all_gather"

    def verify(self) -> list[Problem]:
        problems = self._common_problems()
        if problems:
            return problems
        expected = _scaled_shape(self, self.size, divide=False)
        if expected is None:
            return [Problem(f"coll.all_gather dim is out of range for {self.input.type}", self)]
        return _shape_problem(self, expected)


@attrs.frozen
class ReduceScatterOp(DimCollectiveOp):
    """``coll.reduce_scatter``: reduces over the group and keeps this rank's slice of ``dim``."""

    OP_NAME: ClassVar[str] = "coll.reduce_scatter"

    @property
    def reduce_op(self) -> str:
        """One of ``REDUCE_OPS``."""
        return _reduce_op(self)

    def verify(self) -> list[Problem]:
        problems = self._common_problems() + self._reduce_op_problems()
        if problems:
            return problems
        expected = _scaled_shape(self, self.size, divide=True)
        if expected is None:
            return [
                Problem(
                    f"coll.reduce_scatter cannot split {self.input.type} "
                    f"into {self.size} equal parts along dim {self.dim}",
                    self,
                )
            ]
        return _shape_problem(self, expected)


@attrs.frozen
class AllReduceOp(CollectiveOp):
    """``coll.all_reduce``: every rank gets the reduction of all inputs."""

    OP_NAME: ClassVar[str] = "coll.all_reduce"

    @property
    def reduce_op(self) -> str:
        """One of ``REDUCE_OPS``."""
        return _reduce_op(self)

    def verify(self) -> list[Problem]:
        problems = self._common_problems() + self._reduce_op_problems()
        if problems:
            return problems
        source = self.input.type
        assert isinstance(source, TensorType)
        return _shape_problem(self, source.shape)


@attrs.frozen
class AllToAllOp(CollectiveOp):
    """``coll.all_to_all``: exchanges slices of dim 0; split sizes are attributes when known and
    operands when data dependent (expert-parallel token counts)."""

    OP_NAME: ClassVar[str] = "coll.all_to_all"

    @property
    def split_sizes(self) -> tuple[SplitSizes, SplitSizes]:
        """(output, input) split sizes: a list of ints when known (the attributes
        ``output_split_sizes`` / ``input_split_sizes``), the operand after the input when data
        dependent (the output's first), None for equal splits."""
        dependent = iter(self.operands[1:])
        sizes: list[SplitSizes] = []
        for key in ("output_split_sizes", "input_split_sizes"):
            attribute = self.attr(key)
            if attribute is None:
                sizes.append(next(dependent, None))
            elif isinstance(attribute, ListAttr):
                sizes.append([item.value for item in attribute.items if isinstance(item, IntAttr)])
            else:
                sizes.append(None)
        return sizes[0], sizes[1]

    def verify(self) -> list[Problem]:
        problems = self._common_problems()
        if problems:
            return problems
        result = self.results[0].type
        source = self.input.type
        assert isinstance(result, TensorType) and isinstance(source, TensorType)
        return _require(
            self,
            [
                (
                    result.dtype == source.dtype,
                    f"coll.all_to_all result dtype {result.dtype} differs from its input's {source.dtype}",
                ),
                (
                    result.shape[1:] == source.shape[1:],
                    f"coll.all_to_all keeps every dimension but the first: {source} -> {result}",
                ),
            ],
        )


@attrs.frozen
class WaitOp(Op):
    """``coll.wait``: completes a collective; the result is the collective's value."""

    OP_NAME: ClassVar[str] = "coll.wait"

    @property
    def source(self) -> Value:
        """The pending result of the collective waited on."""
        source = self.operands[0]
        assert isinstance(source, Value)
        return source

    def verify(self) -> list[Problem]:
        shape_ok = (
            len(self.operands) == 1
            and isinstance(self.operands[0], Value)
            and len(self.results) == 1
        )
        if not shape_ok:
            return [Problem("coll.wait takes one value and has one result", self)]
        source = self.operands[0]
        assert isinstance(source, Value)
        return _require(
            self,
            [
                (
                    source.type == self.results[0].type,
                    f"coll.wait result {self.results[0].type} differs from its "
                    f"operand's type {source.type}",
                )
            ],
        )


_RESERVED_OPS: tuple[type[RegionOp | ReturnOp | YieldOp | CollectiveOp | WaitOp], ...] = (
    RegionOp,
    ReturnOp,
    YieldOp,
    AllGatherOp,
    ReduceScatterOp,
    AllReduceOp,
    AllToAllOp,
    WaitOp,
)
OP_CLASSES: dict[str, type[Op]] = {cls.OP_NAME: cls for cls in _RESERVED_OPS}

COLLECTIVE_NAMES = tuple(name for name, cls in OP_CLASSES.items() if issubclass(cls, CollectiveOp))

# torch's functional collectives (``torch.ops._c10d_functional.<name>.default``) and the op
# classes that stand for them: the frontend lifts by this table and lowering inverts it. Names,
# not torch objects, so that the IR stays torch-free.
TORCH_COLLECTIVES: dict[str, type[CollectiveOp | WaitOp]] = {
    "all_gather_into_tensor": AllGatherOp,
    "reduce_scatter_tensor": ReduceScatterOp,
    "all_reduce": AllReduceOp,
    "all_to_all_single": AllToAllOp,
    "wait_tensor": WaitOp,
}


def torch_collective(cls: type[Op]) -> str | None:
    """The name of the torch functional collective that ops of ``cls`` lower to, if any."""
    return next((name for name, known in TORCH_COLLECTIVES.items() if known is cls), None)


def op_class(name: str) -> type[Op] | None:
    """The class of an op name, or None for an unknown name in a reserved namespace."""
    if name in OP_CLASSES:
        return OP_CLASSES[name]
    if name.partition(".")[0] in RESERVED_NAMESPACES:
        return None
    return GenericOp


def make_op(
    name: str,
    operands: Sequence[object] = (),
    results: Sequence[Value] = (),
    attributes: dict[str, object] | DictAttr | None = None,
    regions: Sequence[Block] = (),
    loc: Loc | None = None,
) -> Op:
    """Builds an op of the registered class for ``name``; operands may be values, lists, or
    plain constants, attributes plain Python values."""
    cls = op_class(name)
    if cls is None:
        known = ", ".join(n for n in OP_CLASSES if n.startswith(name.partition(".")[0] + "."))
        raise ValueError(f"unknown op '{name}' (known in its namespace: {known})")
    if isinstance(attributes, DictAttr):
        attribute_dict = attributes
    else:
        attribute_dict = DictAttr.of(attributes or {})
    converted: tuple[Operand, ...] = tuple(make_operand(item) for item in operands)
    return cls(name, converted, tuple(results), attribute_dict, tuple(regions), loc or Loc())
