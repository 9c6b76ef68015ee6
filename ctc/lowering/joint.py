"""Putting a lowered IR function back into a captured ``JointWithDescriptors``.

The op graph comes from the IR alone; the boundary comes from the capture in this process: the
placeholders' example values (fake tensors, fake script objects) and the input/output
descriptors that ``aot_compile_joint_with_descriptors`` pairs with the real arguments. Every node's
``meta["val"]`` is recomputed by fake-tensor propagation, and checked against the IR types.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.fx as fx
from torch.fx.passes.fake_tensor_prop import FakeTensorProp

from ctc.errors import CtcError
from ctc.ir.core import Func, Op
from ctc.ir.ops import RegionOp
from ctc.ir.types import TensorType
from ctc.lowering.to_fx import GroupNames, StreamGroupNames, lower_function
from ctc.torch_types import DTYPE_TO_TORCH, TORCH_TO_DTYPE


def lower_into_joint(
    func: Func,
    joint: Any,
    group_names: GroupNames | None,
    stream_groups: StreamGroupNames | None = None,
) -> fx.GraphModule:
    """Lowers ``func`` and installs it as ``joint.graph_module`` (a JointWithDescriptors);
    returns the new GraphModule. The function's arguments must match the captured placeholders
    by name and order."""
    captured: fx.GraphModule = joint.graph_module
    old_placeholders = captured.graph.find_nodes(op="placeholder")
    names = [arg.name for arg in func.args]
    if names != [p.name for p in old_placeholders]:
        raise CtcError(
            f"@{func.name} takes {len(names)} arguments that do not match the captured step's "
            f"{len(old_placeholders)} inputs (first difference at "
            f"{_first_difference(names, [p.name for p in old_placeholders])})"
        )
    module = lower_function(func, group_names, stream_groups)
    for new, old in zip(module.graph.find_nodes(op="placeholder"), old_placeholders, strict=True):
        new.meta.update(old.meta)
    old_output = captured.graph.find_nodes(op="output")[0]
    new_output = module.graph.find_nodes(op="output")[0]
    new_output.meta.update(old_output.meta)
    propagate_fake_values(module, [p.meta.get("val") for p in old_placeholders])
    check_types(func, module)
    joint.graph_module = module
    return module


def propagate_fake_values(module: fx.GraphModule, inputs: list[Any]) -> None:
    """Fake values for every node, those of higher-order ops' sub-graphs included (made from
    the IR types of their arguments, on the device of the op's first tensor)."""
    mode = torch._guards.detect_fake_mode(inputs)
    if mode is None:
        raise CtcError("the captured step's inputs carry no fake values to propagate from")
    with mode:
        FakeTensorProp(module, mode).propagate_dont_convert_inputs(*inputs)
        _propagate_into_subgraphs(module, mode)


def _propagate_into_subgraphs(module: fx.GraphModule, mode: Any) -> None:
    done: set[int] = set()
    for node in module.graph.nodes:
        if node.op != "call_function":
            continue
        tensors = [a.meta.get("val") for a in node.all_input_nodes]
        device = next((t.device for t in tensors if isinstance(t, torch.Tensor)), None)
        for argument in node.all_input_nodes:
            if argument.op != "get_attr":
                continue
            subgraph = getattr(module, str(argument.target), None)
            if not isinstance(subgraph, fx.GraphModule) or id(subgraph) in done:
                continue
            done.add(id(subgraph))
            fakes = [
                _fake_of(p.meta.get("ctc_type"), device)
                for p in subgraph.graph.find_nodes(op="placeholder")
            ]
            if any(fake is None for fake in fakes):
                continue
            FakeTensorProp(subgraph, mode).propagate_dont_convert_inputs(*fakes)
            _propagate_into_subgraphs(subgraph, mode)


def _fake_of(value_type: Any, device: Any) -> torch.Tensor | None:
    """An (ambient fake mode) tensor of an IR tensor type with static dims, else None."""
    if not isinstance(value_type, TensorType) or device is None:
        return None
    if not all(isinstance(d, int) for d in value_type.shape):
        return None
    dtype = DTYPE_TO_TORCH[value_type.dtype]
    shape = [int(d) for d in value_type.shape]
    if value_type.strides is None:
        return torch.empty(shape, dtype=dtype, device=device)
    strides = [int(d) for d in value_type.strides]
    return torch.empty_strided(shape, strides, dtype=dtype, device=device)


def check_types(func: Func, module: fx.GraphModule) -> None:
    """Every node's propagated value agrees with its IR result type (static dims only)."""
    types = {v.name: v.type for op in _top_level_ops(func.ops) for v in op.results}
    for node in module.graph.nodes:
        expected = types.get(node.name)
        value = node.meta.get("val")
        if not isinstance(expected, TensorType) or not isinstance(value, torch.Tensor):
            continue
        dtype = TORCH_TO_DTYPE.get(value.dtype)
        shape = tuple(value.shape)
        static = all(isinstance(d, int) for d in expected.shape)
        if dtype != expected.dtype or (static and shape != expected.shape):
            raise CtcError(
                f"lowered %{node.name} computes {dtype}{list(shape)} but the IR says {expected}"
            )


def _top_level_ops(ops: tuple[Op, ...]) -> Iterator[Op]:
    """The ops of the function's own namespace: into grouping regions, not into the isolated
    sub-graphs of higher-order ops (their names are their own)."""
    for op in ops:
        yield op
        if isinstance(op, RegionOp):
            yield from _top_level_ops(op.body.ops)


def _first_difference(left: list[str], right: list[str]) -> str:
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            return f"position {index}: %{a} vs {b}"
    return f"position {min(len(left), len(right))}"
