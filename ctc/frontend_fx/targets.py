"""Naming call targets and rebuilding tensor constants, for the lifter."""

from __future__ import annotations

import importlib
from typing import Any

import torch
import torch.fx as fx

from ctc.errors import CtcError
from ctc.frontend_fx.fx_types import type_of
from ctc.ir.types import TensorType
from ctc.torch_types import tag_of

# A tensor constant of more elements than this, not all equal, is refused (the IR is text).
MAX_CONSTANT_ELEMENTS = 4096


def describe(node: fx.Node) -> str:
    target = node.target if isinstance(node.target, str) else _target_text(node.target)
    return f"node %{node.name} ({node.op} {target})"


def _target_text(target: Any) -> str:
    if isinstance(target, torch._ops.OpOverload | torch._ops.HigherOrderOperator):
        return op_name(target)
    return getattr(target, "__qualname__", None) or repr(target)


def op_name(target: Any) -> str:
    """The IR name of a call target: ``aten.mm.default``, ``higher_order.flex_attention``,
    ``python._operator.mul``."""
    if isinstance(target, torch._ops.OpOverload):
        return f"{target.namespace}.{target._opname}.{target._overloadname}"
    if isinstance(target, torch._ops.HigherOrderOperator):
        return f"higher_order.{target.name()}"
    module_name = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    # torch's C functions re-exported by torch (torch.tensor) have a class-qualified
    # __qualname__ (_VariableFunctionsClass.tensor) and are importable by __name__.
    for name in dict.fromkeys((qualname, getattr(target, "__name__", None))):
        if not (module_name and name and "." not in name and "<" not in name):
            continue
        module = importlib.import_module(module_name)
        if getattr(module, name, None) is target:
            return f"python.{module_name}.{name}"
    raise CtcError(
        f"call target {target!r} is not importable by name (module {module_name}, "
        f"name {qualname}); the IR can only name module-level callables"
    )


def mentions_node(value: Any) -> bool:
    if isinstance(value, fx.Node):
        return True
    if isinstance(value, list | tuple):
        return any(mentions_node(item) for item in value)
    if isinstance(value, dict):
        return any(mentions_node(item) for item in value.values())
    return False


def constant_op(held: torch.Tensor, node: fx.Node) -> tuple[str, list[Any], dict[str, Any]]:
    """A tensor constant as an op that rebuilds it: ``aten.full.default`` when every element is
    equal (``size = []`` for a 0-d tensor), else ``python.torch.tensor`` with the values as a
    nested list literal."""
    from torch._subclasses.fake_tensor import is_fake, unset_fake_temporarily

    where = f"tensor constant {describe(node)}"
    if is_fake(held) or held.device.type == "meta":
        raise CtcError(f"{where} has no data (a fake or meta tensor)")
    if held.is_complex() or held.layout != torch.strided:
        raise CtcError(f"{where} is {held.dtype}/{held.layout}; the IR holds real strided ones")
    value_type = type_of(held)
    if isinstance(value_type, TensorType) and value_type.strides is not None:
        raise CtcError(f"{where} is not contiguous ({value_type})")
    attributes: dict[str, Any] = {"dtype": tag_of(held.dtype), "device": tag_of(held.device)}
    # The export's fake mode may still be active: read the real values outside it.
    with unset_fake_temporarily():
        flat = held.detach().reshape(-1)
        uniform = flat.numel() > 0 and bool((flat == flat[0]).all())
        first = flat[0].item() if uniform else None
        values = held.tolist() if not uniform and held.numel() <= MAX_CONSTANT_ELEMENTS else None
    if uniform:
        attributes["size"] = list(held.shape)
        attributes["fill_value"] = first
        return "aten.full.default", [], attributes
    if values is None or (held.numel() == 0 and held.dim() != 1):
        raise CtcError(
            f"{where} ({value_type}) has {held.numel()} elements that are not all equal; the IR "
            f"holds such constants up to {MAX_CONSTANT_ELEMENTS} elements, 1-d when empty"
        )
    return "python.torch.tensor", [values], attributes
