"""Facts about ops that scheduling needs: which ops alias their input, which may move together
with a collective, and the tensor types and bytes they touch. Which ops have effects is
``ctc.ir.effects``'s one rule.

Aten targets are strings (``aten.view.default``); the facts here key on the overload packet
(``view``, ``ctc.ir.effects.packet_name``), so every overload of a view is a view.
"""

from __future__ import annotations

from collections.abc import Iterator

from ctc.ir.core import Op, Value
from ctc.ir.effects import packet_name
from ctc.ir.types import TensorType

# Ops whose results share their first tensor operand's storage: no kernel, no allocation.
VIEW_OPS = frozenset(
    {
        "_reshape_alias",
        "_unsafe_view",
        "alias",
        "as_strided",
        "detach",
        "diagonal",
        "expand",
        "lift_fresh",
        "narrow",
        "permute",
        "select",
        "slice",
        "split",
        "split_with_sizes",
        "squeeze",
        "t",
        "transpose",
        "unbind",
        "unflatten",
        "unsqueeze",
        "view",
        "view_as_complex",
        "view_as_real",
    }
)


# Ops that only move or convert data (besides views): what may travel with a collective as its
# copy-in, cast or copy-out. Anything else -- an embedding lookup, a norm's arithmetic -- is
# computation that stays where the program put it.
DATA_MOVEMENT_OPS = frozenset(
    {
        "_to_copy",
        "cat",
        "clone",
        "contiguous",
        "convert_element_type",
        "copy",
        "reshape",
        "_reshape_copy",
        "flatten",
        "_pre_bucket_all_gather",
        "_pre_bucket_reduce_scatter",
    }
)


def is_data_movement(op: Op) -> bool:
    """A view, or a copy/cast/concatenation of tensors (``DATA_MOVEMENT_OPS``)."""
    return is_view(op) or packet_name(op.name) in DATA_MOVEMENT_OPS


# Ops that allocate without writing: no kernel runs.
ALLOCATION_OPS = frozenset({"empty", "empty_like", "empty_strided", "new_empty"})


def is_allocation(op: Op) -> bool:
    return op.name.startswith("aten.") and packet_name(op.name) in ALLOCATION_OPS


def tensor_type(value: Value) -> TensorType | None:
    return value.type if isinstance(value.type, TensorType) else None


def value_bytes(value: Value) -> int:
    """Bytes of a tensor value (0 for scalars, none, opaque objects and symbolic shapes)."""
    value_type = tensor_type(value)
    if value_type is None:
        return 0
    return value_type.nbytes or 0


def is_view(op: Op) -> bool:
    """Whether ``op``'s results alias its first tensor operand. ``aten.reshape`` is a view of a
    contiguous tensor and a copy otherwise."""
    name = packet_name(op.name)
    if op.name.startswith("aten.") and name in VIEW_OPS:
        return True
    if op.name.startswith("aten.") and name == "reshape":
        source = first_tensor_operand(op)
        return source is not None and (tensor_type(source) or _NO_STRIDES).strides is None
    return False


_NO_STRIDES = TensorType("f32", ())


def first_tensor_operand(op: Op) -> Value | None:
    return next((v for v in op.operand_values() if tensor_type(v) is not None), None)


def tensor_values(values: Iterator[Value]) -> Iterator[Value]:
    return (v for v in values if tensor_type(v) is not None)
