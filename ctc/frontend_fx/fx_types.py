"""IR types of FX values (``node.meta["val"]``): fake tensors, symbolic scalars, script objects.

A tensor keeps its dtype, its shape (a symbolic dimension prints as its expression, ``u0``) and
its strides when they differ from the contiguous ones. A ``SymInt``/``SymFloat``/``SymBool`` is a
scalar of that kind; a ``FakeScriptObject`` (a DTensor's device mesh) is ``opaque<kind>``.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from ctc.ir.types import Dim, NoneType, OpaqueType, ScalarType, TensorType, Type
from ctc.torch_types import TORCH_TO_DTYPE

# Script-object classes -> opaque kinds. Any other class becomes its name in snake case.
OPAQUE_KINDS: dict[str, str] = {
    "torch.distributed.device_mesh.DeviceMesh": "device_mesh",
    "torch.distributed.distributed_c10d.ProcessGroup": "process_group",
}


def dim_of(size: Any) -> Dim:
    """An int, or the printed expression of a symbolic size (``u0``, ``2*u1``)."""
    if isinstance(size, int):
        return size
    if isinstance(size, torch.SymInt):
        expr = size.node.expr
        if getattr(expr, "is_Integer", False):
            return int(expr)
        return str(expr)
    raise TypeError(f"not a size: {size!r}")


def _contiguous_strides(shape: tuple[Any, ...]) -> list[Dim]:
    """Row-major strides of a (possibly symbolic) shape, as ``dim_of`` prints them."""
    strides: list[Dim] = []
    running: Any = 1
    for size in reversed(shape):
        strides.append(dim_of(running))
        running = running * (max(size, 1) if isinstance(size, int) else size)
    return list(reversed(strides))


def tensor_type(value: torch.Tensor) -> TensorType:
    dtype = TORCH_TO_DTYPE.get(value.dtype)
    if dtype is None:
        raise TypeError(f"dtype {value.dtype} has no IR name")
    shape = tuple(dim_of(size) for size in value.shape)
    strides = tuple(dim_of(stride) for stride in value.stride())
    if [str(s) for s in strides] == [str(s) for s in _contiguous_strides(tuple(value.shape))]:
        return TensorType(dtype, shape)
    return TensorType(dtype, shape, strides)


def opaque_kind(value: Any) -> str:
    class_name = getattr(value, "script_class_name", None) or type(value).__qualname__
    if class_name in OPAQUE_KINDS:
        return OPAQUE_KINDS[class_name]
    short = str(class_name).rpartition(".")[2]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", short).lower()


def type_of(value: Any) -> Type:
    """The IR type of an FX value; raises ``TypeError`` for a value the IR has no type for."""
    from torch._library.fake_class_registry import FakeScriptObject

    if isinstance(value, torch.Tensor):
        return tensor_type(value)
    if isinstance(value, torch.SymBool | bool):
        return ScalarType("bool")
    if isinstance(value, torch.SymInt | int):
        return ScalarType("int")
    if isinstance(value, torch.SymFloat | float):
        return ScalarType("float")
    if isinstance(value, FakeScriptObject | torch.ScriptObject):
        return OpaqueType(opaque_kind(value))
    if value is None:
        return NoneType()
    raise TypeError(f"no IR type for a {type(value).__name__}")
