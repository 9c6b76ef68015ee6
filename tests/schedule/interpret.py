"""A numpy interpreter of the ops the scheduling tests use, running every rank in lockstep.

Collectives complete when issued (all ranks hold their inputs then); ``coll.wait`` is the
identity. Rank ``r`` of a group of ``size`` ranks is rank ``r`` of the whole world: the tests use
one-dimensional meshes. Enough to check that a scheduled program computes bitwise the same values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ctc.ir import Func, Op, OperandList, Value
from ctc.schedule.graph import flatten

Array = np.ndarray[Any, Any]
DTYPES = {"f32": np.float32, "f64": np.float64, "bf16": np.float32, "f16": np.float16}


def _attr(op: Op, key: str, default: object = None) -> Any:
    value = op.attr(key)
    return default if value is None else value.py


def _slice(op: Op, x: Array) -> Array:
    dim = _attr(op, "dim", 0)
    index = [slice(None)] * x.ndim
    index[dim] = slice(_attr(op, "start"), _attr(op, "end"), _attr(op, "step", 1))
    return x[tuple(index)]


def _sum(op: Op, x: Array) -> Array:
    dims = _attr(op, "dim")
    return np.asarray(x.sum(axis=tuple(dims) if dims is not None else None), dtype=x.dtype)


def _view(op: Op, x: Array) -> Array:
    """torch refuses to view a strided tensor; so does this interpreter."""
    source = next(op.operand_values())
    assert source.type.strides is None, f"aten.view of strided %{source.name}"  # type: ignore[union-attr]
    return x.reshape(_attr(op, "size"))


LOCAL: dict[str, Callable[[Op, list[Any]], Array]] = {
    "aten.view.default": lambda op, a: _view(op, a[0]),
    "aten.reshape.default": lambda op, a: a[0].reshape(_attr(op, "shape")),
    "aten.cat.default": lambda op, a: np.concatenate(a[0], axis=_attr(op, "dim", 0)),
    "aten.slice.Tensor": lambda op, a: _slice(op, a[0]),
    "aten.clone.default": lambda op, a: np.ascontiguousarray(a[0]).copy(),
    "aten.permute.default": lambda op, a: a[0].transpose(_attr(op, "dims")),
    "aten.expand.default": lambda op, a: np.broadcast_to(a[0], _attr(op, "size")),
    "aten.mm.default": lambda op, a: a[0] @ a[1],
    "aten.relu.default": lambda op, a: np.maximum(a[0], 0),
    "aten.add.Tensor": lambda op, a: a[0] + a[1],
    "aten.mul.Tensor": lambda op, a: a[0] * a[1],
    "aten.sum.default": lambda op, a: _sum(op, a[0]),
    "aten.sum.dim_IntList": lambda op, a: _sum(op, a[0]),
    "aten.threshold_backward.default": lambda op, a: np.where(
        a[1] <= _attr(op, "threshold"), np.zeros_like(a[0]), a[0]
    ),
    "aten.t.default": lambda op, a: a[0].T,
    "aten.split.Tensor": lambda op, a: _split(op, a[0]),
    "coll.wait": lambda op, a: a[0],
}


def _split(op: Op, x: Array) -> list[Array]:
    dim, size = _attr(op, "dim", 0), _attr(op, "split_size")
    return np.split(x, range(size, x.shape[dim], size), axis=dim)


def _operands(op: Op, env: dict[str, Array]) -> list[Any]:
    def get(item: object) -> Any:
        if isinstance(item, Value):
            return env[item.name]
        if isinstance(item, OperandList):
            return [get(x) for x in item.items]
        return getattr(item, "py", item)

    return [get(item) for item in op.operands]


def _collective(op: Op, inputs: list[Array]) -> list[Array]:
    dim = _attr(op, "dim", 0)
    if op.name == "coll.all_gather":
        gathered = np.concatenate(inputs, axis=dim)
        return [gathered for _ in inputs]
    if op.name == "coll.reduce_scatter":
        total = inputs[0].copy()
        for x in inputs[1:]:
            total = total + x
        return list(np.split(total, len(inputs), axis=dim))
    if op.name == "coll.all_reduce":
        total = inputs[0].copy()
        for x in inputs[1:]:
            total = total + x
        return [total for _ in inputs]
    raise NotImplementedError(op.name)


def run(func: Func, args_per_rank: Sequence[dict[str, Array]]) -> list[list[Array]]:
    """The values each rank returns."""
    envs = [dict(args) for args in args_per_rank]
    for op in flatten(func).ops:
        if op.name == "ctc.return":
            return [[np.asarray(env[v.name]) for v in op.operand_values()] for env in envs]
        if op.name.startswith("coll.") and op.name != "coll.wait":
            outputs = _collective(op, [env[op.operands[0].name] for env in envs])  # type: ignore[union-attr]
            for env, out in zip(envs, outputs, strict=True):
                env[op.results[0].name] = out
            continue
        for env in envs:
            out = LOCAL[op.name](op, _operands(op, env))
            outs = out if len(op.results) > 1 else [out]
            for result, value in zip(op.results, outs, strict=True):
                env[result.name] = value
    raise ValueError("function has no ctc.return")


def random_args(func: Func, ranks: int, seed: int) -> list[dict[str, Array]]:
    """Different random tensors on every rank, for every tensor argument."""
    generator = np.random.default_rng(seed)
    per_rank = []
    for _ in range(ranks):
        values = {}
        for arg in func.args:
            shape = tuple(arg.type.shape)  # type: ignore[union-attr]
            dtype = DTYPES[arg.type.dtype]  # type: ignore[union-attr]
            values[arg.name] = generator.standard_normal(shape).astype(dtype)
        per_rank.append(values)
    return per_rank
