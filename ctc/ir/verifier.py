"""The module-wide verifier.

Guarantees, when it returns no problems: every value is defined once in its scope and before
each use; operand types equal their definitions; every function ends in ``ctc.return`` whose
operands match the declared results; sub-graphs of higher-order ops see only their own arguments
and end in ``ctc.yield``; grouping regions are well formed; every collective names mesh
dimensions of the module with a matching group size, has well-formed attributes, and is completed
by exactly one ``coll.wait`` (and nothing else reads its pending result but size queries,
``METADATA_OPS``).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import attrs

from ctc.ir.attributes import Attribute, DictAttr, ListAttr, TagAttr, attr_problems
from ctc.ir.core import Value, operand_values
from ctc.ir.types import NoneType, type_problems

if TYPE_CHECKING:
    from ctc.ir.core import Block, Func, Module, Op


@attrs.frozen(eq=False)
class Problem:
    """One verification failure, pointing at the op (when there is one) that caused it."""

    message: str
    op: Op | None = None
    function: str | None = None

    def __str__(self) -> str:
        where = f"in @{self.function}: " if self.function else ""
        if self.op is None:
            return where + self.message
        head = self.op.name
        if self.op.results:
            head = ", ".join(f"%{r.name}" for r in self.op.results) + " = " + head
        return f"{where}{self.message} (at '{head}')"


class VerificationError(Exception):
    """Raised by ``check``: the module is invalid. ``problems`` lists every failure."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def verify(module: Module) -> list[Problem]:
    """Every problem of ``module``; empty when it is valid."""
    problems = _mesh_problems(module)
    mesh = dict(module.mesh) if not problems else {}
    names = Counter(func.name for func in module.functions)
    problems += [
        Problem(f"function @{name} is defined {n} times", function=name)
        for name, n in names.items()
        if n > 1
    ]
    for func in module.functions:
        for problem in _FunctionVerifier(func, mesh).run():
            problems.append(attrs.evolve(problem, function=func.name))
    return problems


def check(module: Module) -> Module:
    """Returns ``module`` unchanged when valid; raises ``VerificationError`` otherwise."""
    problems = verify(module)
    if problems:
        raise VerificationError(problems)
    return module


def _mesh_problems(module: Module) -> list[Problem]:
    mesh = module.attributes.get("mesh")
    if mesh is None:
        return []
    pairs = mesh.py
    well_formed = isinstance(pairs, list) and all(
        isinstance(p, list)
        and len(p) == 2
        and isinstance(p[0], str)
        and isinstance(p[1], int)
        and not isinstance(p[1], bool)
        and p[1] >= 1
        for p in pairs
    )
    if not well_formed:
        return [
            Problem(
                'module attribute mesh must be a list of ["name", size] pairs with '
                f"sizes >= 1, got {mesh}"
            )
        ]
    assert isinstance(pairs, list)
    repeated = [name for name, n in Counter(p[0] for p in pairs).items() if n > 1]  # type: ignore[index]
    return [Problem(f"mesh dimension '{name}' appears twice") for name in repeated]


# Ops that read only a tensor's sizes or strides, which a pending collective result already has:
# captured expert-parallel graphs size an all_to_all's output (aten.sym_size.int) before its wait.
METADATA_OPS = frozenset(
    {
        "aten.sym_size.int",
        "aten.sym_numel.default",
        "aten.sym_stride.int",
        "aten.sym_storage_offset.default",
    }
)


# How deep regions may nest. The verifier itself walks any depth, but passes, lowering and
# structural equality recurse once or twice per level; this keeps them far from Python's
# recursion limit. Captured programs nest three or four levels.
MAX_REGION_DEPTH = 100


class _FunctionVerifier:
    def __init__(self, func: Func, mesh: dict[str, int]) -> None:
        self.func = func
        self.mesh = mesh
        self.problems: list[Problem] = []
        self.pending: dict[str, int] = {}  # collective result name -> number of coll.wait uses
        self.collectives: dict[str, Op] = {}
        # Types and attribute dicts are often shared between ops; each is checked once.
        self.checked_types: dict[int, list[str]] = {}
        self.checked_attributes: dict[int, list[str]] = {}
        from ctc.ir import ops  # which imports this module, for Problem

        self.op_class = ops.op_class
        self.wait_class = ops.WaitOp
        self.collective_class = ops.CollectiveOp

    def run(self) -> list[Problem]:
        func = self.func
        if func.arg_attrs and len(func.arg_attrs) != len(func.args):
            self.problems.append(
                Problem(
                    f"{len(func.arg_attrs)} argument attribute dicts for {len(func.args)} arguments"
                )
            )
        if func.result_attrs and len(func.result_attrs) != len(func.result_types):
            self.problems.append(
                Problem(
                    f"{len(func.result_attrs)} result attribute dicts for "
                    f"{len(func.result_types)} results"
                )
            )
        for value_type in func.result_types:
            self.problems += [Problem(p) for p in type_problems(value_type)]
        scope: dict[str, Value] = {}
        self._define(func.body.args, scope, None)
        self._blocks(func.body, scope)
        if func.ops and func.ops[-1].name == "ctc.return":
            self._return(func.ops[-1])
        for name, waits in self.pending.items():
            if waits != 1:
                self.problems.append(
                    Problem(
                        f"collective result %{name} is waited {waits} times; "
                        "it must be waited exactly once",
                        self.collectives[name],
                    )
                )
        return self.problems

    def _define(self, values: tuple[Value, ...], scope: dict[str, Value], op: Op | None) -> None:
        for value in values:
            if value.name in scope:
                self.problems.append(Problem(f"value %{value.name} is defined twice", op))
            scope[value.name] = value
            problems = self.checked_types.get(id(value.type))
            if problems is None:
                problems = self.checked_types[id(value.type)] = type_problems(value.type)
            if problems:
                self.problems += [Problem(p, op) for p in problems]

    def _blocks(self, body: Block, scope: dict[str, Value]) -> None:
        """Checks the function body and, depth first, every region in it. An op with regions
        waits on an explicit stack while they are checked, so any depth is walked without
        recursion."""
        stack = [_Walk(body, scope, "ctc.return", None)]
        while stack:
            walk = stack[-1]
            if walk.index == len(walk.block.ops):
                stack.pop()
                self._block_end(walk)
                owner = walk.owner
                if owner is None:
                    continue
                if walk.region_index + 1 < len(owner.regions):
                    stack.append(self._region_walk(owner, walk.region_index + 1, stack[-1].scope))
                else:
                    self._op_end(owner, stack[-1].scope)
                continue
            op = walk.block.ops[walk.index]
            walk.index += 1
            self._op_start(op, walk)
            if not op.regions:
                self._op_end(op, walk.scope)
                continue
            if len(stack) == MAX_REGION_DEPTH + 1:  # reported once, at the outermost such op
                self.problems.append(
                    Problem(
                        f"regions nest more than {MAX_REGION_DEPTH} levels deep here; "
                        "ctc accepts at most that many",
                        op,
                    )
                )
            stack.append(self._region_walk(op, 0, walk.scope))

    def _region_walk(self, op: Op, index: int, scope: dict[str, Value]) -> _Walk:
        region = op.regions[index]
        if op.TRANSPARENT_REGIONS:
            return _Walk(region, scope, None, op, index)
        inner: dict[str, Value] = {}
        self._define(region.args, inner, op)
        return _Walk(region, inner, "ctc.yield", op, index)

    def _block_end(self, walk: _Walk) -> None:
        block, terminator = walk.block, walk.terminator
        if terminator is not None and (not block.ops or block.ops[-1].name != terminator):
            kind = "function" if terminator == "ctc.return" else "higher-order op region"
            self.problems.append(Problem(f"a {kind} must end with {terminator}", walk.owner))

    def _op_start(self, op: Op, walk: _Walk) -> None:
        """The checks of ``op`` before its regions."""
        if op.name in ("ctc.return", "ctc.yield") and (
            op.name != walk.terminator or walk.index != len(walk.block.ops)
        ):
            where = (
                "the end of a function"
                if op.name == "ctc.return"
                else "the end of a higher-order op's region"
            )
            self.problems.append(Problem(f"{op.name} may only stand at {where}", op))
        expected_class = self.op_class(op.name)
        if expected_class is None:
            self.problems.append(Problem(f"unknown op '{op.name}'", op))
        elif type(op) is not expected_class:
            self.problems.append(
                Problem(
                    f"op '{op.name}' must be a {expected_class.__name__}, "
                    f"not a {type(op).__name__}",
                    op,
                )
            )
        scope = walk.scope
        for operand in op.operands:
            if type(operand) is Value:
                self._use(operand, op, scope)
            else:
                for value in operand_values(operand):
                    self._use(value, op, scope)
        problems = self.checked_attributes.get(id(op.attributes))
        if problems is None:
            problems = [p for _, value in op.attributes.entries for p in attribute_problems(value)]
            self.checked_attributes[id(op.attributes)] = problems
        if problems:
            self.problems += [Problem(p, op) for p in problems]
        self.problems += op.verify()
        self._collective(op, scope)

    def _use(self, value: Value, op: Op, scope: dict[str, Value]) -> None:
        defined = scope.get(value.name)
        if defined is value and value.name not in self.pending:
            return
        if defined is None:
            self.problems.append(Problem(f"use of undefined value %{value.name}", op))
        elif defined.type != value.type:
            self.problems.append(
                Problem(
                    f"operand %{value.name} has type {value.type} but is defined as {defined.type}",
                    op,
                )
            )
        if value.name in self.pending and defined is not None:
            if isinstance(op, self.wait_class):
                self.pending[value.name] += 1
            elif op.name not in METADATA_OPS:
                self.problems.append(
                    Problem(
                        f"%{value.name} is a pending collective result; only coll.wait may use it",
                        op,
                    )
                )

    def _op_end(self, op: Op, scope: dict[str, Value]) -> None:
        """The checks of ``op`` after its regions: its results come into scope."""
        self._define(op.results, scope, op)
        self._finish_collectives(op)

    def _collective(self, op: Op, scope: dict[str, Value]) -> None:
        if isinstance(op, self.wait_class) and op.operands:
            source = op.operands[0]
            if (
                getattr(source, "name", None) not in self.pending
                and getattr(source, "name", None) in scope
            ):
                self.problems.append(Problem("coll.wait must wait on a collective's result", op))
        if not isinstance(op, self.collective_class) or (not self.mesh and not op.group_dims):
            return
        assert isinstance(op, self.collective_class)
        dims = op.group_dims
        unknown = [d for d in dims if d not in self.mesh]
        if unknown:
            known = ", ".join(self.mesh) or "none: the module has no mesh attribute"
            self.problems.append(
                Problem(
                    f"{op.name} names mesh dimension '{unknown[0]}', which "
                    f"the module's mesh lacks (mesh dimensions: {known})",
                    op,
                )
            )
            return
        expected = 1
        for dim in dims:
            expected *= self.mesh[dim]
        if op.size != expected:
            self.problems.append(
                Problem(
                    f"{op.name} over {op.group_key} has size {op.size}, but "
                    f"the mesh gives that group {expected} ranks",
                    op,
                )
            )

    def _finish_collectives(self, op: Op) -> None:
        if isinstance(op, self.collective_class) and len(op.results) == 1:
            self.pending[op.results[0].name] = 0
            self.collectives[op.results[0].name] = op

    def _return(self, op: Op) -> None:
        declared = self.func.result_types
        if len(op.operands) != len(declared):
            self.problems.append(
                Problem(
                    f"ctc.return gives {len(op.operands)} value(s) but the "
                    f"function declares {len(declared)}",
                    op,
                )
            )
            return
        for position, (operand, value_type) in enumerate(zip(op.operands, declared, strict=True)):
            actual = getattr(operand, "type", None)
            if actual is None:
                actual = NoneType() if str(operand) == "none" else None
            if actual != value_type:
                self.problems.append(
                    Problem(
                        f"ctc.return result {position} is {actual or operand} "
                        f"but the function declares {value_type}",
                        op,
                    )
                )


@attrs.define
class _Walk:
    """A block being checked: where it is, its scope, its terminator and the op it belongs to."""

    block: Block
    scope: dict[str, Value]
    terminator: str | None
    owner: Op | None
    region_index: int = 0
    index: int = 0


def attribute_problems(value: Attribute) -> list[str]:
    """``attr_problems`` without recursion: nested lists and dicts of any depth."""
    problems: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, TagAttr):
            problems += attr_problems(item)
        elif isinstance(item, ListAttr):
            stack += reversed(item.items)
        elif isinstance(item, DictAttr):
            stack += reversed([entry for _, entry in item.entries])
    return problems
