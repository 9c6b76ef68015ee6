"""``cudagraph``: marks a function for CUDA graph capture and replay, after checking that it can
be captured; and which arguments a captured graph keeps, copies or passes (torch-free).

A CUDA graph records GPU work once and replays exactly that work: the same kernels on the same
addresses with the same sizes. What a replay cannot redo is refused here, from the IR alone, with
the first offending op named (``capture_problems``):

- reading a tensor's value on the host (``.item()``: ``aten._local_scalar_dense``): a replay would
  reuse the value read at capture;
- copying a tensor to host memory that is not pinned (``aten._to_copy {device = #device<cpu>}``):
  the copy cannot be captured;
- making a CPU tensor of one element or more (``aten.ones {device = #device<cpu>}``): CPU work runs
  once, at capture (0-d CPU constants are kernel scalars and are fine);
- dynamic shapes: a symbolic dimension (``f32[u0]``, ``f32[s0,4]``) in a result or an argument:
  a replay has the sizes of its capture.

Devices of arguments are not in the IR: the backend (``ctc.cudagraphs``) checks those.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import attrs

from ctc.errors import CtcError
from ctc.ir.attributes import BoolAttr, DictAttr, TagAttr
from ctc.ir.core import Func, Module, Op, Value
from ctc.ir.ops import RegionOp
from ctc.ir.types import TensorType, Type
from ctc.passes.base import Pass
from ctc.passes.wrap import wrap_body

# Ops that read a tensor's value on the host (op name without its overload).
HOST_READS: dict[str, str] = {
    "aten._local_scalar_dense": ".item()",
    "aten.item": ".item()",
    "aten.equal": "torch.equal",
    "aten.is_nonzero": "bool(tensor)",
}

# Ops that copy a tensor to another device: with a CPU target they copy to host memory.
DEVICE_COPIES = ("aten._to_copy", "aten.to", "aten.copy", "aten.copy_", "prims.device_put")


@attrs.frozen
class CaptureProblem:
    """Why a function cannot be captured: the first op (or argument) that a replay cannot redo."""

    function: str
    what: str  # "%name = op.name" or "argument %name"
    module: str | None
    reason: str

    def describe(self) -> str:
        """The problem without its function: ``%s = op (module 'm') reason``."""
        where = f" (module '{self.module}')" if self.module else ""
        return f"{self.what}{where} {self.reason}"

    def __str__(self) -> str:
        return f"@{self.function}: {self.describe()}"


def _base_name(op_name: str) -> str:
    """``aten.mm.default`` -> ``aten.mm``; other namespaces keep their full name."""
    if op_name.startswith(("aten.", "prims.")) and op_name.count(".") >= 2:
        return op_name.rsplit(".", 1)[0]
    return op_name


def _dynamic_type_reason(value_type: Type) -> str | None:
    """Why a value's type needs sizes known only at run time, or None. Host scalars (``int``)
    alone are no reason: static graphs have them too (SDPA's ``max_q`` on a GPU); a dynamic one
    shows as a symbol in the shape of a tensor that depends on it."""
    if not isinstance(value_type, TensorType):
        return None
    symbols = [dim for dim in value_type.shape if isinstance(dim, str)]
    if not symbols:
        return None
    return (
        f"has a dynamic shape ({value_type}, symbol {symbols[0]}): a replay has the sizes of "
        "its capture"
    )


def _device_reason(op: Op) -> str | None:
    device = op.attributes.get("device")
    if not isinstance(device, TagAttr) or not device.value.startswith("cpu"):
        return None
    if _base_name(op.name) in DEVICE_COPIES:
        pinned = op.attributes.get("pin_memory")
        if isinstance(pinned, BoolAttr) and pinned.value:
            return None
        return "copies to unpinned host memory: such a copy cannot be captured"
    result_types = [value.type for value in op.results]
    if all(isinstance(t, TensorType) and t.shape == () for t in result_types):
        return None  # a 0-d CPU constant: kernels read it as a scalar at capture
    shown = ", ".join(str(t) for t in result_types)
    return f"makes a CPU tensor ({shown}): CPU work runs once, at capture, not at each replay"


def op_problem(op: Op, in_subgraph: bool) -> str | None:
    """Why ``op`` cannot be replayed, or None. Inside a higher-order op's sub-graph (compiled
    into one kernel) sizes are the kernel's own business."""
    base = _base_name(op.name)
    if base in HOST_READS:
        return f"reads a tensor's value on the host ({HOST_READS[base]}): a replay would reuse the value read at capture"
    reason = _device_reason(op)
    if reason is not None or in_subgraph:
        return reason
    for value in op.results:
        reason = _dynamic_type_reason(value.type)
        if reason is not None:
            return reason
    return None


def _ops_with_context(ops: tuple[Op, ...], in_subgraph: bool = False) -> Iterator[tuple[Op, bool]]:
    """Every op in text order, with whether it sits in a higher-order op's sub-graph."""
    for op in ops:
        yield op, in_subgraph
        for region in op.regions:
            inner = in_subgraph or not isinstance(op, RegionOp)
            yield from _ops_with_context(region.ops, inner)


def _describe_op(op: Op) -> str:
    if op.results:
        return f"%{op.results[0].name} = {op.name}"
    return op.name


def capture_problems(func: Func) -> list[CaptureProblem]:
    """Everything in ``func`` a CUDA graph replay cannot redo, arguments first, then ops in text
    order (the first one is the one to fix first)."""
    problems = []
    for arg in func.args:
        reason = _dynamic_type_reason(arg.type)
        if reason is not None:
            problems.append(CaptureProblem(func.name, f"argument %{arg.name}", None, reason))
    for op, in_subgraph in _ops_with_context(func.ops):
        reason = op_problem(op, in_subgraph)
        if reason is not None:
            problems.append(CaptureProblem(func.name, _describe_op(op), op.loc.module, reason))
    return problems


def check_capturable(func: Func) -> None:
    """Raises a ``CtcError`` naming the first op of ``func`` that a replay cannot redo."""
    problems = capture_problems(func)
    if not problems:
        return
    more = f" ({len(problems) - 1} more after it)" if len(problems) > 1 else ""
    first = problems[0].describe()
    raise CtcError(f"cannot capture @{func.name} in a CUDA graph: {first}{more}")


# How a captured graph treats each argument (``InputPlan.kinds``):
STATIC = "static"  # a parameter or buffer: its address is part of the graph and checked
SAVED = "saved"  # a value the forward saved: the tensor seen at capture is the graph's buffer
COPIED = "copied"  # any other tensor: copied into the graph's own buffer before each replay
PASSED = "passed"  # not a tensor (a device mesh): the capture's object is what the graph used


@attrs.frozen
class InputPlan:
    """Per argument of a function: its kind (``STATIC``, ``SAVED``, ``COPIED``, ``PASSED``) and
    a label naming it for messages (``%primals_1 (param 'w.weight')``)."""

    kinds: tuple[str, ...]
    labels: tuple[str, ...]

    def indices(self, kind: str) -> tuple[int, ...]:
        return tuple(index for index, k in enumerate(self.kinds) if k == kind)


def _arg_label(arg: Value, attributes: DictAttr) -> str:
    for key in ("param", "buffer", "input", "tangent", "saved"):
        value = attributes.get(key)
        if value is not None:
            shown = f"'{value.py}'" if key in ("param", "buffer") else str(value.py)
            return f"%{arg.name} ({key} {shown})"
    return f"%{arg.name}"


def input_plan(func: Func) -> InputPlan:
    """The kind of each argument of ``func``, from its types and descriptor attributes:
    parameters and buffers (DTensors' local tensors included: their pieces carry the same keys)
    are static, saved values keep their capture-time tensor, other tensors are copied."""
    kinds, labels = [], []
    arg_attrs = func.arg_attrs or tuple(DictAttr() for _ in func.args)
    for arg, attributes in zip(func.args, arg_attrs, strict=True):
        labels.append(_arg_label(arg, attributes))
        if not isinstance(arg.type, TensorType):
            kinds.append(PASSED)
        elif "param" in attributes or "buffer" in attributes:
            kinds.append(STATIC)
        elif "saved" in attributes:
            kinds.append(SAVED)
        else:
            kinds.append(COPIED)
    return InputPlan(tuple(kinds), tuple(labels))


def marked_for_cuda_graphs(func: Func) -> bool:
    """Whether the ``cudagraph`` pass wrapped ``func``."""
    return any(isinstance(op, RegionOp) and op.kind == "cudagraph" for op in func.ops)


@attrs.frozen
class CudagraphPass(Pass):
    """Marks the function for CUDA graph capture and replay, refusing what cannot be replayed.

    The backend (``ctc.cudagraphs``) captures the compiled function in a CUDA graph and replays
    it. Guarantees: the whole function body but its ``ctc.return`` is one
    ``ctc.region {kind = "cudagraph"}``; op order, names and values are unchanged; a function
    that a replay could not redo (``capture_problems``: ``.item()``, unpinned host copies, CPU
    tensors, dynamic shapes) is refused with its first offending op and module named. Needs a
    CUDA target: the pipeline is refused on the CPU before anything runs.
    """

    name: ClassVar[str] = "cudagraph"
    stages: ClassVar[tuple[str, ...]] = ("fwd", "bwd")
    must_be_last: ClassVar[bool] = True
    devices: ClassVar[tuple[str, ...]] = ("cuda",)

    def run(self, module: Module) -> Module:
        for func in module.functions:
            check_capturable(func)
        functions = tuple(wrap_body(func, "cudagraph", func.name) for func in module.functions)
        return attrs.evolve(module, functions=functions)
