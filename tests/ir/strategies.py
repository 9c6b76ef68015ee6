"""Hypothesis strategies that generate valid IR modules."""

from __future__ import annotations

from hypothesis import strategies as st

from ctc.ir import Block, DictAttr, Func, Loc, Module, Op, TagAttr, Value, tensor
from ctc.ir.attributes import Attribute, FloatAttr, to_attr
from ctc.ir.ops import make_op
from ctc.ir.types import DTYPES, TensorType

names = st.from_regex(r"[a-z_][a-z0-9_.]{0,8}", fullmatch=True)
# Keys spelled like words of the grammar are quoted by the printer and must read back.
keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_ -]{0,6}", fullmatch=True) | st.sampled_from(
    ["none", "func", "module", "loc", "strides", "opaque", "true", "inf"]
)

scalar_attrs: st.SearchStrategy[Attribute] = st.one_of(
    st.integers(-(2**63), 2**63).map(to_attr),
    st.integers(0, 2**64 - 1).map(FloatAttr),
    st.booleans().map(to_attr),
    st.text(max_size=8).map(to_attr),
    st.none().map(to_attr),
    st.sampled_from(DTYPES).map(lambda d: TagAttr("dtype", d)),
    st.sampled_from(["cpu", "cuda:0"]).map(lambda d: TagAttr("device", d)),
)

attributes: st.SearchStrategy[Attribute] = st.recursive(
    scalar_attrs,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(to_attr),
        st.dictionaries(keys, inner, max_size=3).map(DictAttr.of),
    ),
    max_leaves=6,
)

tensor_types = st.builds(
    lambda dtype, shape: tensor(dtype, *shape),
    st.sampled_from(DTYPES),
    st.lists(
        st.one_of(st.integers(0, 64), st.sampled_from(["u0", "s1", "none", "strides", "u0 + u1"])),
        max_size=3,
    ),
)

locs = st.builds(
    Loc,
    module=st.none() | st.sampled_from(["layers.0.attention", "output", "tok_embeddings"]),
    phase=st.none() | st.sampled_from(["fwd", "bwd"]),
    seq=st.none() | st.integers(0, 1000),
    recompute=st.none() | st.just("must_recompute"),
    ac_graph_id=st.none() | st.integers(0, 5),
    annotations=st.none() | st.dictionaries(keys, scalar_attrs, max_size=2).map(DictAttr.of),
)


@st.composite
def modules(draw: st.DrawFn) -> Module:
    """A function of generic ops over earlier values, optionally grouped in a region, with an
    all-gather + wait pair, returning some of its values."""
    arg_types = draw(st.lists(tensor_types, min_size=1, max_size=3))
    args = tuple(Value(f"arg{i}", t) for i, t in enumerate(arg_types))
    defined: list[Value] = list(args)
    ops: list[Op] = []
    for index in range(draw(st.integers(0, 6))):
        operands = draw(st.lists(st.sampled_from(defined), min_size=1, max_size=3))
        nested = draw(st.booleans())
        result_count = draw(st.integers(0, 2))
        results = [Value(f"v{index}_{k}", draw(tensor_types)) for k in range(result_count)]
        op = make_op(
            draw(st.sampled_from(["aten.add.Tensor", "aten.cat.default", "prims.foo.bar"])),
            [operands] if nested else operands,
            results,
            draw(st.dictionaries(names, attributes, max_size=3)),
            loc=draw(locs),
        )
        ops.append(op)
        defined.extend(results)
    if draw(st.booleans()) and isinstance(args[0].type, TensorType) and args[0].type.shape:
        source = args[0]
        assert isinstance(source.type, TensorType)
        gathered_shape = list(source.type.shape)
        if isinstance(gathered_shape[0], int):
            gathered_shape[0] *= 2
        gathered = Value("gathered", tensor(source.type.dtype, *gathered_shape))
        waited = Value("waited", gathered.type)
        gather = make_op(
            "coll.all_gather", [source], [gathered], {"group": "dp_shard", "size": 2, "dim": 0}
        )
        wait = make_op("coll.wait", [gathered], [waited])
        region = make_op(
            "ctc.region", regions=[Block((wait,))], attributes={"kind": "block", "name": "layers.0"}
        )
        ops += [gather, region]
        defined.append(waited)
    returned = draw(st.lists(st.sampled_from(defined), min_size=1, max_size=3))
    ops.append(make_op("ctc.return", returned))
    func = Func(
        "joint",
        Block(tuple(ops), args),
        tuple(v.type for v in returned),
        tuple(
            draw(st.dictionaries(names, scalar_attrs, max_size=2).map(DictAttr.of)) for _ in args
        ),
        tuple(DictAttr() for _ in returned),
    )
    return Module((func,), DictAttr.of({"mesh": [["dp_shard", 2], ["tp", 4]]}))
