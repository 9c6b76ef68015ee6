"""The cost model: how long an op takes on a device, from its types and attributes alone.

Compute is a roofline: ``max(flops / rate, bytes / bandwidth)`` plus a fixed per-kernel overhead,
with FLOPs counted for matmuls, convolutions and attention (SDPA, flash, FlexAttention; forward
and backward) and bytes (inputs + outputs) for every other kernel. The rate is the profile's
peak times its efficiency, except where the profile measured better: a matmul is priced at the
rate measured for the nearest shape (``ctc.schedule.rates``: each chunk of a split matmul pays
its own, smaller shape's rate and its own overhead), attention at the measured attention rates.
Views cost the profile's ``view_overhead`` (host time: nothing on a GPU, where kernels queue
behind them; a dispatch on a CPU, where the host is the device); uninitialised allocations
(``aten.empty``) cost nothing.

Collectives follow NCCL's ring formulas (as torch's ``comm_analysis``): ``base latency + steps x
hop latency + bytes on the wire / bus bandwidth``, with ``p - 1`` steps for all-gather,
reduce-scatter and all-to-all and ``2(p - 1)`` for all-reduce; every collective pays its own
latency, so splitting one into chunks costs latencies. Issuing one also takes
``collective_issue_overhead`` of compute-stream time (``issue_time``). A group whose ranks span nodes
(the mesh laid out row-major, ``gpus_per_node`` ranks to a node) uses the inter-node link.

Device profiles, their schema and the built-in ones are data in ``ctc.schedule.profile``. Every
number depends only on the IR, never on the rank, so decisions made from it agree on all ranks.
"""

from __future__ import annotations

import math

import attrs

from ctc.ir.attributes import IntAttr
from ctc.ir.core import Op
from ctc.ir.effects import packet_name
from ctc.ir.ops import (
    AllGatherOp,
    AllReduceOp,
    AllToAllOp,
    CollectiveOp,
    ReduceScatterOp,
    RegionOp,
    ReturnOp,
    WaitOp,
)
from ctc.ir.types import TensorType
from ctc.schedule.opinfo import (
    is_allocation,
    is_view,
    tensor_type,
    tensor_values,
    value_bytes,
)
from ctc.schedule.profile import DeviceProfile
from ctc.schedule.rates import nearest_rate

# --- FLOPs --------------------------------------------------------------------------------------

# FlexAttention's block mask is opaque here; torchtitan's masks are causal, so half the scores.
FLEX_ATTENTION_DENSITY = 0.5
# A flash/SDPA backward does about 2.5 times the forward's matmul work.
ATTENTION_BACKWARD_FACTOR = 2.5


def _shape(op: Op, position: int) -> tuple[int, ...] | None:
    values = [v for v in op.operand_values()]
    if position >= len(values):
        return None
    value_type = tensor_type(values[position])
    if value_type is None or any(not isinstance(d, int) for d in value_type.shape):
        return None
    return tuple(int(d) for d in value_type.shape)


def _result_numel(op: Op) -> int:
    if not op.results:
        return 0
    value_type = tensor_type(op.results[0])
    return (value_type.numel or 0) if value_type is not None else 0


def _matmul_flops(op: Op, first: int) -> int:
    """2 x (output elements) x (contraction length) for mm/bmm-like ops."""
    shape = _shape(op, first)
    if shape is None or not shape:
        return 0
    return 2 * _result_numel(op) * shape[-1]


@attrs.frozen
class MatmulShape:
    """A product of ``batch`` ``[m, k] x [k, n]`` matrices; ``layout`` says which operands are
    transposed (``ctc.schedule.rates.LAYOUTS``)."""

    dtype: str
    batch: int
    m: int
    k: int
    n: int
    layout: str


def _transposed(op: Op, position: int) -> bool:
    """Whether the operand's last two dimensions are stored column-major (an ``aten.t`` view)."""
    values = list(op.operand_values())
    value_type = tensor_type(values[position]) if position < len(values) else None
    if value_type is None or value_type.strides is None or len(value_type.shape) < 2:
        return False
    return value_type.strides[-2] == 1 and value_type.strides[-1] != 1


def matmul_shape(op: Op) -> MatmulShape | None:
    """The shape of an ``mm``/``bmm``/``addmm``/``baddbmm``, or None for other ops and
    symbolic sizes."""
    name = packet_name(op.name)
    first = {"mm": 0, "bmm": 0, "addmm": 1, "baddbmm": 1}.get(name)
    if first is None:
        return None
    left, right = _shape(op, first), _shape(op, first + 1)
    if left is None or right is None or len(left) < 2 or len(right) < 2:
        return None
    batch = math.prod(left[:-2]) if len(left) > 2 else 1
    layout = ("t" if _transposed(op, first) else "n") + ("t" if _transposed(op, first + 1) else "n")
    return MatmulShape(_compute_dtype(op), batch, left[-2], left[-1], right[-1], layout)


def _attention_flops(op: Op, name: str) -> int:
    backward = "backward" in name
    flex = "flex_attention" in name
    # Operand order: sdpa/flash/efficient forward (q, k, v, ...); their backward (grad_out, q,
    # k, v, ...); flex forward and backward (q, k, v, ...).
    q_pos = 1 if backward and not flex else 0
    q, k = _shape(op, q_pos), _shape(op, q_pos + 1)
    if q is None or k is None or len(q) != 4 or len(k) != 4:
        return 0
    # _flash_attention_forward and _efficient_attention_forward take [batch, seq, heads, dim].
    seq_dim = 1 if name.startswith(("_flash_attention", "_efficient_attention")) else 2
    batch_heads_q_dim = math.prod(q)
    flops = 4 * batch_heads_q_dim * k[seq_dim]
    is_causal = op.attr("is_causal")
    if flex:
        flops = int(flops * FLEX_ATTENTION_DENSITY)
    elif is_causal is not None and getattr(is_causal, "value", False) is True:
        flops //= 2
    return int(flops * ATTENTION_BACKWARD_FACTOR) if backward else flops


def _convolution_flops(op: Op, backward: bool) -> int:
    # forward (input, weight, ...); backward (grad_output, input, weight, ...)
    weight = _shape(op, 2 if backward else 1)
    out_numel = (
        math.prod(_shape(op, 0) or (0,)) if backward else _result_numel(op)
    )  # grad_output has the forward output's shape
    if weight is None or len(weight) < 2:
        return 0
    forward = 2 * out_numel * math.prod(weight[1:])
    return 2 * forward if backward else forward


def op_flops(op: Op) -> int:
    """Floating-point operations of ``op`` (0 for memory-bound and unknown ops)."""
    name = packet_name(op.name)
    if name in ("mm", "bmm", "matmul", "_scaled_mm"):
        return _matmul_flops(op, 0)
    if name in ("addmm", "baddbmm"):
        return _matmul_flops(op, 1)
    if name in ("convolution", "_convolution", "convolution_overrideable"):
        return _convolution_flops(op, backward=False)
    if name == "convolution_backward":
        return _convolution_flops(op, backward=True)
    if "attention" in name and (
        "scaled_dot_product" in name
        or name.startswith(("_flash_attention", "_efficient_attention", "flex_attention"))
    ):
        return _attention_flops(op, name)
    return 0


# Kernels that write only part of their result: torch's bucketing op (``torch._inductor.
# fx_passes.bucketing``) allocates the whole gathered bucket but copies just this rank's shards
# into its slice; the all-gather then fills the rest in place.
PARTIAL_WRITES = {"_pre_bucket_all_gather": "group_size"}


def op_bytes(op: Op) -> int:
    """Bytes a kernel reads and writes: its tensor operands and results (the part it writes)."""
    read = sum(value_bytes(v) for v in tensor_values(op.operand_values()))
    written = sum(value_bytes(v) for v in tensor_values(iter(op.results)))
    packet = packet_name(op.name)
    divisor = op.attr(PARTIAL_WRITES[packet]) if packet in PARTIAL_WRITES else None
    if isinstance(divisor, IntAttr) and divisor.value > 1:
        written //= divisor.value
    return read + written


def _compute_dtype(op: Op) -> str:
    value = next(tensor_values(op.operand_values()), None)
    value_type = tensor_type(value) if value is not None else None
    return value_type.dtype if value_type is not None else "f32"


# --- the model ----------------------------------------------------------------------------------


@attrs.frozen
class CostModel:
    """Times (seconds) of ops for a device profile and a device mesh (``Module.mesh``)."""

    profile: DeviceProfile
    mesh: tuple[tuple[str, int], ...] = ()

    def peak_flops(self, dtype: str) -> float:
        if dtype in ("bf16", "f16"):
            return self.profile.flops_bf16
        if dtype.startswith("f8"):
            return 2 * self.profile.flops_bf16
        return self.profile.flops_f32

    def op_time(self, op: Op) -> float:
        """Seconds ``op`` occupies its stream; 0 for views, regions, waits and returns."""
        if isinstance(op, CollectiveOp):
            return self.collective_time(op)
        if isinstance(op, WaitOp | RegionOp | ReturnOp) or is_allocation(op):
            return 0.0
        if is_view(op):
            return self.profile.view_overhead
        if not any(True for _ in tensor_values(iter(op.results))) and not op.regions:
            return 0.0  # scalar arithmetic on sizes runs on the host
        profile = self.profile
        flops = op_flops(op)
        compute = flops / self.flops_rate(op) if flops else 0.0
        memory = op_bytes(op) / (profile.memory_bandwidth * profile.memory_efficiency)
        return max(compute, memory) + profile.kernel_overhead

    def flops_rate(self, op: Op) -> float:
        """FLOP/s ``op`` reaches: measured for its shape or kind when the profile has it, else
        the peak of its dtype times ``matmul_efficiency``."""
        profile = self.profile
        shape = matmul_shape(op)
        if shape is not None and profile.matmul_rates:
            measured = nearest_rate(
                profile.matmul_rates,
                shape.dtype,
                shape.batch,
                shape.m,
                shape.k,
                shape.n,
                shape.layout,
            )
            if measured is not None:
                return measured
        if shape is None and "attention" in op.name:
            backward = "backward" in op.name
            measured_attention = (
                profile.attention_backward_rate if backward else profile.attention_rate
            )
            if measured_attention is not None:
                return measured_attention
        return self.peak_flops(_compute_dtype(op)) * profile.matmul_efficiency

    def issue_time(self, op: Op) -> float:
        """Compute-stream seconds spent issuing ``op`` (a collective), before it can start."""
        return self.profile.collective_issue_overhead if isinstance(op, CollectiveOp) else 0.0

    def spans_nodes(self, op: CollectiveOp) -> bool:
        """Whether the group of rank 0 for ``op`` holds ranks of more than one node."""
        sizes = dict(self.mesh)
        if not all(dim in sizes for dim in op.group_dims):
            return op.size > self.profile.gpus_per_node
        strides: dict[str, int] = {}
        running = 1
        for dim, size in reversed(self.mesh):
            strides[dim] = running
            running *= size
        farthest = sum((sizes[dim] - 1) * strides[dim] for dim in op.group_dims)
        return farthest // self.profile.gpus_per_node > 0

    def collective_time(self, op: CollectiveOp) -> float:
        fixed, transfer = self.collective_parts(op)
        return fixed + transfer

    def collective_parts(self, op: CollectiveOp) -> tuple[float, float]:
        """(latency seconds, transfer seconds) of a collective; merging collectives of one group
        into a bucket pays the latency once and the transfers summed."""
        ranks = op.size
        if ranks <= 1:
            return 0.0, 0.0
        profile = self.profile
        if self.spans_nodes(op):
            bandwidth = profile.inter_node_bandwidth
            latency, hop = profile.inter_node_latency, profile.inter_node_hop_latency
        else:
            bandwidth = profile.intra_node_bandwidth
            latency, hop = profile.intra_node_latency, profile.intra_node_hop_latency
        steps, wire_bytes = ring_steps_and_bytes(op)
        return latency + steps * hop, wire_bytes / bandwidth

    def copy_time(self, nbytes: float, kernels: int) -> float:
        """A memory-bound copy moving ``nbytes`` (read + write) in ``kernels`` kernels."""
        bandwidth = self.profile.memory_bandwidth * self.profile.memory_efficiency
        return nbytes / bandwidth + kernels * self.profile.kernel_overhead


def ring_steps_and_bytes(op: CollectiveOp) -> tuple[int, float]:
    """Ring steps and the bus bytes of a collective: NCCL's busbw convention, so that time is
    ``bytes / busbw`` with ``bytes = buffer x (p-1)/p`` (twice that for all-reduce)."""
    ranks = op.size
    source = tensor_type(op.input)
    result = tensor_type(op.results[0]) if op.results else None
    input_bytes = (source.nbytes or 0) if isinstance(source, TensorType) else 0
    output_bytes = (result.nbytes or 0) if isinstance(result, TensorType) else 0
    fraction = (ranks - 1) / ranks
    if isinstance(op, AllGatherOp):
        return ranks - 1, output_bytes * fraction
    if isinstance(op, ReduceScatterOp):
        return ranks - 1, input_bytes * fraction
    if isinstance(op, AllReduceOp):
        return 2 * (ranks - 1), 2 * input_bytes * fraction
    if isinstance(op, AllToAllOp):
        return ranks - 1, input_bytes * fraction
    return ranks - 1, input_bytes * fraction
