"""Region outlining: group consecutive ops that belong together into ``ctc.region`` ops."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar

import attrs

from ctc.ir.attributes import DictAttr, StrAttr
from ctc.ir.core import Block, Module, Op, walk_ops
from ctc.ir.ops import RegionOp, ReturnOp, YieldOp, make_op
from ctc.passes.base import Pass
from ctc.passes.options import ChoiceOption, option

# The transformer block an op belongs to: its module path up to `layers.N`.
_BLOCK_PATH = re.compile(r"^((?:[A-Za-z0-9_]+\.)*?layers\.\d+)(?:\.|$)")
INDUCTOR_ANNOTATION = "compile_with_inductor"
# Ops inductor compiles without an annotation: FlexAttention's, as the reference compiled them
# (eager FlexAttention is an unfused reference implementation).
COMPILED_BY_DEFAULT = ("higher_order.flex_attention", "higher_order.flex_attention_backward")

# (region name, phase) an op belongs to, or None when it belongs to no region of the kind.
Key = tuple[str, str | None]
# Stands for an op that no region may absorb or span (a terminator, a mixed region).
_BARRIER: Key = ("", "barrier")


def block_key(op: Op) -> Key | None:
    """The transformer block of an op, from ``loc.module`` (``layers.0.attention.wq``)."""
    match = _BLOCK_PATH.match(op.loc.module or "")
    return (match.group(1), op.loc.phase) if match else None


def inductor_key(op: Op) -> Key | None:
    """The inductor region of an op: from its ``compile_with_inductor`` annotation (the text,
    else the ``inductor_region`` entry, else the op's module path), or, for FlexAttention's
    higher-order ops, its module path."""
    annotations = op.loc.annotations
    value = annotations.get(INDUCTOR_ANNOTATION) if annotations is not None else None
    if value is None:
        if op.name in COMPILED_BY_DEFAULT:
            return (op.loc.module or op.name.rpartition(".")[2], op.loc.phase)
        return None
    if isinstance(value, StrAttr):
        return (value.value, op.loc.phase)
    region = value.get("inductor_region") if isinstance(value, DictAttr) else None
    if region is not None:
        return (str(region.py), op.loc.phase)
    return (op.loc.module or "inductor", op.loc.phase)


@attrs.frozen
class OutlineRule:
    """How ops are grouped for one region kind: the key of an op, and whether ops without a key
    between two ops of one region join it."""

    key: Callable[[Op], Key | None]
    fill_gaps: bool


RULES: dict[str, OutlineRule] = {
    # Ops without a module path (views, waits) inside a block belong to it.
    "block": OutlineRule(block_key, fill_gaps=True),
    # Inductor regions are exactly the annotated ops: nothing unannotated is compiled.
    "inductor": OutlineRule(inductor_key, fill_gaps=False),
}

# How region kinds nest, outermost first: outlining never puts a region inside a finer one.
NESTING = ("cudagraph", "block", "ep_dispatch", "ep_combine", "inductor", "bucket", "group")


def _coarser(kind: str, than: str) -> bool:
    def depth(name: str) -> int:
        return NESTING.index(name) if name in NESTING else len(NESTING)

    return depth(kind) < depth(than)


def _key(op: Op, kind: str, rule: OutlineRule) -> Key | None:
    if isinstance(op, ReturnOp | YieldOp):
        return _BARRIER
    if not isinstance(op, RegionOp):
        return rule.key(op)
    if op.kind == kind or _coarser(op.kind, kind):
        return _BARRIER
    # A finer region moves as one op when every op in it has the same key.
    keys = {_key(inner, kind, rule) for inner in op.body.ops}
    return keys.pop() if len(keys) == 1 and None not in keys else _BARRIER


def _fill_gaps(keys: list[Key | None]) -> list[Key | None]:
    """Ops with no key between two ops of the same region join it."""
    filled = list(keys)
    previous: tuple[int, Key] | None = None
    for index, key in enumerate(keys):
        if key is None:
            continue
        if previous is not None and previous[1] == key and key != _BARRIER:
            for gap in range(previous[0] + 1, index):
                filled[gap] = key
        previous = (index, key)
    return filled


def _region(kind: str, key: Key, ops: list[Op]) -> Op:
    name, phase = key
    attributes: dict[str, object] = {"kind": kind, "name": name}
    if phase is not None:
        attributes["phase"] = phase
    if kind == "inductor":
        configs = next(filter(None, (inductor_configs(op) for op in walk_ops(tuple(ops)))), None)
        if configs is not None:
            attributes["inductor_configs"] = configs
    return make_op("ctc.region", attributes=attributes, regions=[Block(tuple(ops))])


def inductor_configs(op: Op) -> DictAttr | None:
    """The ``inductor_configs`` of an op's ``compile_with_inductor`` annotation, if any."""
    annotations = op.loc.annotations
    value = annotations.get(INDUCTOR_ANNOTATION) if annotations is not None else None
    configs = value.get("inductor_configs") if isinstance(value, DictAttr) else None
    return configs if isinstance(configs, DictAttr) and configs.entries else None


def outline_ops(ops: tuple[Op, ...], kind: str, rule: OutlineRule | None = None) -> tuple[Op, ...]:
    """``ops`` with each maximal run of ops of one region wrapped in a ``ctc.region``; ``rule``
    (default: the kind's entry of ``RULES``) says which region an op belongs to."""
    rule = rule or RULES[kind]
    ops = tuple(_recurse(op, kind, rule) for op in ops)
    keys: list[Key | None] = [_key(op, kind, rule) for op in ops]
    if rule.fill_gaps:
        keys = _fill_gaps(keys)
    result: list[Op] = []
    index = 0
    while index < len(ops):
        key = keys[index]
        end = index + 1
        while end < len(ops) and key is not None and keys[end] == key:
            end += 1
        if key is None or key == _BARRIER:
            result.extend(ops[index:end])
        else:
            result.append(_region(kind, key, list(ops[index:end])))
        index = end
    return tuple(result)


def _recurse(op: Op, kind: str, rule: OutlineRule) -> Op:
    """Outlines inside a region of another kind that is coarser or spans several regions."""
    if not isinstance(op, RegionOp) or op.kind == kind or _key(op, kind, rule) != _BARRIER:
        return op
    return op.replace(regions=(Block(outline_ops(op.body.ops, kind, rule), op.body.args),))


@attrs.frozen
class OutlinePass(Pass):
    """Groups the ops of each transformer block or inductor region into ``ctc.region`` ops.

    ``kind=block``: by the ``layers.N`` prefix of ``loc.module``; ``kind=inductor``: by the
    ``compile_with_inductor`` annotation.

    Guarantees: ops keep their order and names (a region's values are visible after it); a
    region holds a maximal run of ops with the same name and phase (for blocks, plus ops without
    a module path between two ops of the run); regions carry kind, name and, when known, phase;
    regions nest in the order of ``NESTING`` (blocks hold inductor regions, whichever is outlined
    first); terminators and regions of the same kind never move, so outlining twice changes
    nothing, and ``inline`` of the same kind gives the input back.
    """

    name: ClassVar[str] = "outline"

    kind: str = option(
        ChoiceOption(tuple(RULES)),
        doc="block: by transformer block (loc.module); inductor: by compile_with_inductor",
    )

    def run(self, module: Module) -> Module:
        functions = tuple(f.with_ops(outline_ops(f.ops, self.kind)) for f in module.functions)
        return attrs.evolve(module, functions=functions)
