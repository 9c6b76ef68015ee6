"""Random FSDP-like training steps for the scheduling property tests.

A ``Program`` is drawn as plain data (parameters, their blocks and shard shapes, where gathers
sit, tensor-parallel-like all-reduces) and built into IR by ``build``, whose ``names`` argument
renames every value -- the same program as another rank might capture it.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from hypothesis import strategies as st

from ctc.ir import Block, DictAttr, Func, Loc, Module, Op, Value, make_op, tensor
from ctc.ir.types import TensorType

RANKS = 2
GROUP = {"group": "dp_shard", "size": RANKS}


@attrs.frozen
class Param:
    module: str
    shape: tuple[int, ...]
    located: bool  # whether its ops carry loc(module = ...)
    early: bool  # gathered at the start of its block instead of at its use


@attrs.frozen
class Program:
    blocks: tuple[tuple[Param, ...], ...]
    all_reduce_after: tuple[bool, ...]
    regions: bool  # each block's forward inside ctc.region {kind = "block"}


shapes = st.one_of(st.tuples(st.integers(1, 3), st.integers(1, 3)), st.tuples(st.integers(1, 4)))


@st.composite
def programs(draw: st.DrawFn, max_blocks: int = 4) -> Program:
    names = ["tok_embeddings", *[f"layers.{i}" for i in range(max_blocks)], "norm", "output"]
    count = draw(st.integers(1, len(names)))
    start = draw(st.integers(0, len(names) - count))
    blocks = []
    for block in names[start : start + count]:
        params = []
        for index in range(draw(st.integers(1, 3))):
            params.append(
                Param(
                    f"{block}.p{index}",
                    draw(shapes),
                    draw(st.booleans() | st.just(True)),
                    draw(st.booleans()),
                )
            )
        blocks.append(tuple(params))
    all_reduce = tuple(draw(st.booleans()) for _ in blocks)
    return Program(tuple(blocks), all_reduce, draw(st.booleans()))


def build(program: Program, names: Callable[[str], str] = lambda n: n) -> Module:
    """The IR of ``program``; ``names`` maps each canonical value name to the one used."""
    ops: list[Op] = []
    f32 = "f32"

    def value(name: str, value_type: TensorType) -> Value:
        return Value(names(name), value_type)

    x = value("x", tensor(f32, 2, 3))
    mix = value("mix", tensor(f32, 3, 3))
    args = [x, mix]
    arg_attrs = [DictAttr.of({"input": 0}), DictAttr.of({"input": 1})]
    params = [p for block in program.blocks for p in block]
    shards = []
    for index, param in enumerate(params):
        shards.append(value(f"p{index}", tensor(f32, *param.shape)))
        args.append(shards[-1])
        arg_attrs.append(DictAttr.of({"param": f"{param.module}.weight"}))
    gathered: dict[int, Value] = {}
    h = x
    activations: dict[int, Value] = {}
    number = 0

    def loc(param: Param, phase: str) -> Loc:
        return Loc(module=param.module if param.located else None, phase=phase)

    def gather(index: int) -> None:
        param, shard = params[index], shards[index]
        full_shape = (RANKS * param.shape[0], *param.shape[1:])
        pending = value(f"ag{index}", tensor(f32, *full_shape))
        done = value(f"w{index}", tensor(f32, *full_shape))
        ops.append(
            make_op(
                "coll.all_gather", [shard], [pending], {**GROUP, "dim": 0}, loc=loc(param, "fwd")
            )
        )
        ops.append(make_op("coll.wait", [pending], [done], loc=loc(param, "fwd")))
        gathered[index] = done

    for block_number, block in enumerate(program.blocks):
        block_start = len(ops)
        first = sum(len(b) for b in program.blocks[:block_number])
        for offset, param in enumerate(block):
            if param.early:
                gather(first + offset)
        for offset, param in enumerate(block):
            index = first + offset
            if index not in gathered:
                gather(index)
            number += 1
            total = value(f"s{number}", tensor(f32))
            ops.append(
                make_op("aten.sum.default", [gathered[index]], [total], loc=loc(param, "fwd"))
            )
            mixed = value(f"m{number}", tensor(f32, 2, 3))
            ops.append(make_op("aten.mm.default", [h, mix], [mixed], loc=loc(param, "fwd")))
            h = value(f"h{number}", tensor(f32, 2, 3))
            ops.append(make_op("aten.add.Tensor", [mixed, total], [h], loc=loc(param, "fwd")))
            activations[index] = h
        if program.all_reduce_after[block_number]:
            pending = value(f"ar{block_number}", tensor(f32, 2, 3))
            reduced = value(f"arw{block_number}", tensor(f32, 2, 3))
            attributes = {**GROUP, "reduce_op": "sum"}
            ops.append(make_op("coll.all_reduce", [h], [pending], attributes))
            ops.append(make_op("coll.wait", [pending], [reduced]))
            h = reduced
        if program.regions:
            name = block[0].module.rsplit(".", 1)[0]
            body = Block(tuple(ops[block_start:]))
            attributes = {"kind": "block", "name": name}
            ops[block_start:] = [make_op("ctc.region", regions=[body], attributes=attributes)]
    loss = value("loss", tensor(f32))
    ops.append(make_op("aten.sum.default", [h], [loss]))
    grads: list[Value] = []
    for index in reversed(range(len(params))):
        param = params[index]
        full = gathered[index].type
        assert isinstance(full, TensorType)
        scale = value(f"gs{index}", tensor(f32))
        ops.append(
            make_op("aten.sum.default", [activations[index]], [scale], loc=loc(param, "bwd"))
        )
        spread = value(f"ge{index}", tensor(f32, *full.shape, strides=(0,) * len(full.shape)))
        ops.append(
            make_op(
                "aten.expand.default",
                [scale],
                [spread],
                {"size": list(full.shape)},
                loc=loc(param, "bwd"),
            )
        )
        grad = value(f"g{index}", full)
        ops.append(
            make_op("aten.mul.Tensor", [spread, gathered[index]], [grad], loc=loc(param, "bwd"))
        )
        pending = value(f"rs{index}", shards[index].type)  # type: ignore[arg-type]
        reduced = value(f"gr{index}", shards[index].type)  # type: ignore[arg-type]
        attributes = {**GROUP, "dim": 0, "reduce_op": "sum"}
        ops.append(
            make_op("coll.reduce_scatter", [grad], [pending], attributes, loc=loc(param, "bwd"))
        )
        ops.append(make_op("coll.wait", [pending], [reduced], loc=loc(param, "bwd")))
        grads.append(reduced)
    returned = [loss, *grads]
    ops.append(make_op("ctc.return", returned))
    result_attrs = [DictAttr.of({"loss": 0})]
    result_attrs += [
        DictAttr.of({"grad": f"{params[i].module}.weight"}) for i in reversed(range(len(params)))
    ]
    func = Func(
        "joint",
        Block(tuple(ops), tuple(args)),
        tuple(v.type for v in returned),
        tuple(arg_attrs),
        tuple(result_attrs),
    )
    return Module((func,), DictAttr.of({"mesh": [["dp_shard", RANKS]]}))
