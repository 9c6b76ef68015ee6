"""A captured function's boundary: the attributes of its arguments and results, from AOT
descriptors (``node.meta["desc"]`` of placeholders, the output node's ``meta["desc"]`` list).

Every argument or result with a descriptor carries ``desc = "<repr>"``, the exact repr, from which
lowering can rebuild it. Tensor-typed ones also carry a friendly key:
  arguments  param = "fqn" | buffer = "fqn" | input = flat user-input index
             | tangent = position among the tangent arguments | saved = index (a backward
             argument that the forward saved: its SavedForBackwardsAOTOutput index)
  results    loss = idx (a 0-d floating-point PlainAOTOutput) | output = idx (another one)
             | grad = "fqn" (gradient of a parameter or buffer) | grad_input = idx
             | mutated = "fqn" or idx (an input mutation written back) | saved = idx
A DTensor flattens into pieces (``SubclassGetAttrAOTInput(base=..., attr='_local_tensor')`` and
``attr='device_mesh'``): the tensor piece gets the friendly key, the mesh piece only its ``desc``
(``saved``, a position, goes on saved values of every type).
"""

from __future__ import annotations

from typing import Any

from ctc.ir.types import TensorType, Type

_FLOAT_DTYPES = ("f64", "f32", "f16", "bf16", "f8e4m3fn", "f8e4m3fnuz", "f8e5m2", "f8e5m2fnuz")


def _innermost(desc: Any) -> Any:
    """The described thing under any subclass-piece wrappers."""
    while type(desc).__name__.startswith("Subclass") and hasattr(desc, "base"):
        desc = desc.base
    return desc


def _input_key(desc: Any) -> tuple[str, object] | None:
    kind = type(desc).__name__
    if kind == "ParamAOTInput":
        return "param", desc.target
    if kind == "BufferAOTInput":
        return "buffer", desc.target
    if kind == "PlainAOTInput":
        return "input", desc.idx
    return None


def arg_attributes(desc: Any, value_type: Type, tangent_position: int | None) -> dict[str, object]:
    """Attributes of one argument; ``tangent_position`` counts tangent arguments so far."""
    attributes: dict[str, object] = {}
    if desc is None:
        return attributes
    attributes["desc"] = repr(desc)
    if not isinstance(value_type, TensorType):
        return attributes
    inner = _innermost(desc)
    if type(inner).__name__ == "TangentAOTInput":
        attributes["tangent"] = tangent_position
        return attributes
    key = _input_key(inner)
    if key is not None:
        attributes[key[0]] = key[1]
    return attributes


def is_tangent(desc: Any) -> bool:
    return type(_innermost(desc)).__name__ == "TangentAOTInput"


def result_attributes(desc: Any, value_type: Type) -> dict[str, object]:
    attributes: dict[str, object] = {}
    if desc is None:
        return attributes
    attributes["desc"] = repr(desc)
    inner = _innermost(desc)
    kind = type(inner).__name__
    if kind.startswith("SavedForBackwards"):  # saved values of any type, meshes included
        attributes["saved"] = inner.idx
    if not isinstance(value_type, TensorType):
        return attributes
    if kind == "PlainAOTOutput":
        is_loss = value_type.shape == () and value_type.dtype in _FLOAT_DTYPES
        attributes["loss" if is_loss else "output"] = inner.idx
    elif kind == "GradAOTOutput":
        key = _input_key(_innermost(inner.grad_of))
        if key is not None and key[0] in ("param", "buffer"):
            attributes["grad"] = key[1]
        elif key is not None:
            attributes["grad_input"] = key[1]
    elif kind == "InputMutationAOTOutput":
        key = _input_key(_innermost(inner.mutated_input))
        if key is not None:
            attributes["mutated"] = key[1]
    return attributes
