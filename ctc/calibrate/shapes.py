"""What ``ctc calibrate`` measures: the matmul and attention shapes and the sizes of memory-bound
kernels, read from captured IR files, or a default set when none is given. Torch-free.

Only kernel shapes come from the IR: each is then timed alone (``ctc.calibrate.measure``), never
the step it came from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs

from ctc.ir.core import Module, Op
from ctc.ir.ops import CollectiveOp, RegionOp, ReturnOp, WaitOp
from ctc.schedule.cost import MatmulShape, matmul_shape, op_bytes, op_flops
from ctc.schedule.graph import flatten
from ctc.schedule.opinfo import is_allocation, is_view, tensor_type


@attrs.frozen
class AttentionShape:
    """Scaled dot-product attention on ``[batch, heads, seq, head_dim]`` query, key and value
    (key and value may have fewer heads and other head sizes), causal or not."""

    dtype: str
    batch: int
    heads: int
    kv_heads: int
    q_seq: int
    kv_seq: int
    qk_dim: int
    v_dim: int
    causal: bool

    @property
    def flops(self) -> int:
        """FLOPs as the cost model counts them (``ctc.schedule.cost``): 4 x |q| x kv_seq,
        halved when causal."""
        flops = 4 * self.batch * self.heads * self.q_seq * self.qk_dim * self.kv_seq
        return flops // 2 if self.causal else flops


@attrs.frozen
class Workload:
    """The kernels to time: matmul shapes, attention shapes, and byte sizes of memory-bound
    kernels (read + written)."""

    matmuls: tuple[MatmulShape, ...]
    attentions: tuple[AttentionShape, ...]
    memory_bytes: tuple[int, ...]

    def describe(self) -> str:
        return (
            f"{len(self.matmuls)} matmul shapes, {len(self.attentions)} attention shapes, "
            f"{len(self.memory_bytes)} memory-bound sizes"
        )


# Attention forward ops whose operands are (query, key, value, ...) as [batch, heads, seq, dim].
_ATTENTION_FORWARD = (
    "_scaled_dot_product_flash_attention_for_cpu",
    "_scaled_dot_product_flash_attention",
    "_scaled_dot_product_efficient_attention",
    "_scaled_dot_product_cudnn_attention",
    "scaled_dot_product_attention",
)


def _attention_shape(op: Op) -> AttentionShape | None:
    packet = op.name.split(".")[1] if op.name.startswith("aten.") else ""
    if packet not in _ATTENTION_FORWARD:
        return None
    values = list(op.operand_values())[:3]
    types = [tensor_type(v) for v in values]
    if len(types) < 3 or any(t is None or len(t.shape) != 4 for t in types):
        return None
    shapes = [t.shape for t in types if t is not None]
    if any(not isinstance(d, int) for shape in shapes for d in shape):
        return None
    (b, h, s, qd), (_, kh, ks, _), (_, _, _, vd) = (tuple(int(x) for x in s) for s in shapes)
    causal_attr = op.attr("is_causal")
    causal = bool(getattr(causal_attr, "value", False))
    dtype = types[0].dtype if types[0] is not None else "f32"
    return AttentionShape(dtype, b, h, kh, s, ks, qd, vd, causal)


def _memory_bound(op: Op) -> bool:
    if isinstance(op, CollectiveOp | WaitOp | RegionOp | ReturnOp):
        return False
    if is_view(op) or is_allocation(op) or not op.results:
        return False
    return op_flops(op) == 0 and op_bytes(op) > 0


# Quantiles of the memory-bound kernel sizes that the bandwidth is fitted on.
SIZE_QUANTILES = (0.25, 0.5, 0.75, 0.9, 0.99)


def workload_of(modules: Iterable[Module]) -> Workload:
    """Every distinct matmul and attention shape of the modules' functions (regions flattened),
    and memory-bound kernel sizes at ``SIZE_QUANTILES`` of the ones they run."""
    matmuls: dict[MatmulShape, None] = {}
    attentions: dict[AttentionShape, None] = {}
    sizes: list[int] = []
    for module in modules:
        for func in module.functions:
            for op in flatten(func).ops:
                shape = matmul_shape(op)
                if shape is not None:
                    matmuls.setdefault(shape, None)
                    continue
                attention = _attention_shape(op)
                if attention is not None:
                    attentions.setdefault(attention, None)
                elif _memory_bound(op):
                    sizes.append(op_bytes(op))
    return Workload(tuple(matmuls), tuple(attentions), _quantiles(sizes))


def _quantiles(sizes: Sequence[int]) -> tuple[int, ...]:
    if not sizes:
        return DEFAULT.memory_bytes
    ordered = sorted(sizes)
    picked = {ordered[min(len(ordered) - 1, math.floor(q * len(ordered)))] for q in SIZE_QUANTILES}
    return tuple(sorted(picked))


def _grid(
    dtypes: Sequence[str], rows: Sequence[int], sides: Sequence[int]
) -> tuple[MatmulShape, ...]:
    return tuple(
        MatmulShape(dtype, 1, m, k, n, "nt")
        for dtype in dtypes
        for m in rows
        for k in sides
        for n in sides
    )


# Without IR files: a small grid around transformer-layer shapes.
DEFAULT = Workload(
    matmuls=_grid(("f32", "bf16"), (64, 512, 2048), (256, 1024)),
    attentions=(
        AttentionShape("bf16", 1, 8, 8, 256, 256, 64, 64, True),
        AttentionShape("bf16", 1, 16, 16, 1024, 1024, 64, 64, True),
    ),
    memory_bytes=(16 * 2**10, 256 * 2**10, 2 * 2**20, 16 * 2**20),
)

# --quick: one of each, small, so that a test run takes seconds.
QUICK = Workload(
    matmuls=(MatmulShape("f32", 1, 64, 128, 128, "nt"), MatmulShape("bf16", 1, 64, 128, 128, "nt")),
    attentions=(AttentionShape("f32", 1, 2, 2, 32, 32, 16, 16, True),),
    memory_bytes=(16 * 2**10, 256 * 2**10),
)


def quick_subset(workload: Workload, matmuls: int = 4) -> Workload:
    """A few of a workload's kernels (the smallest and largest matmuls), for --quick."""
    ordered = sorted(workload.matmuls, key=lambda s: 2 * s.batch * s.m * s.k * s.n)
    picked = tuple(dict.fromkeys(ordered[: matmuls // 2] + ordered[-(matmuls - matmuls // 2) :]))
    return Workload(picked, workload.attentions[:1], workload.memory_bytes[:2])
