"""A small fully-sharded data-parallel wrapper in the SimpleFSDP style, in plain torch.

``shard_parameters(model, dp_mesh)`` stores every parameter as a DTensor sharded on dimension 0
over ``dp_mesh`` (``Shard(0)``) and reads it, whenever the module uses it, through a gathering
property: forward all-gathers the shards (``redistribute`` to ``Replicate``) and hands the module
a full local tensor whose gradient is ``Partial`` (summed), so backward reduce-scatters it into the
shard's gradient. A captured step therefore holds one all-gather per parameter in the forward and
one reduce-scatter per gradient in the backward, as torchtitan's SimpleFSDP does, without
torchtitan (which does not import under torch 2.11).

A parameter that is already a DTensor (tensor parallel, from ``parallelize_module``) keeps its
tensor-parallel layout: its local shard is what gets sharded over ``dp_mesh``, and the gathered
tensor is wrapped back into a DTensor on its own mesh with its own placements. Gradients are the
sum over data-parallel ranks. Parameter names (``named_parameters``, ``state_dict``) do not change.

Every sharded dimension must divide evenly by the data-parallel size (uneven shards would need
padding that DTensor computes from tensor values); a parameter that does not is refused.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from ctc.errors import CtcError


class _DataParallelParameter:
    """How one sharded parameter turns back into the tensor the module computes with."""

    def __init__(self, dp_mesh: Any, tp_mesh: Any, tp_placements: tuple[Any, ...]) -> None:
        self.dp_mesh = dp_mesh
        self.tp_mesh = tp_mesh
        self.tp_placements = tp_placements

    def gather(self, shard: Any) -> Any:
        from torch.distributed.tensor import DTensor, Partial, Replicate

        full = shard.redistribute(placements=[Replicate()]).to_local(grad_placements=[Partial()])
        if self.tp_mesh is None:
            return full
        return DTensor.from_local(full, self.tp_mesh, self.tp_placements, run_check=False)


def _gathering_property(name: str) -> property:
    def gathered(module: nn.Module) -> Any:
        rule: _DataParallelParameter = module._ctc_data_parallel[name]  # type: ignore[assignment,index]
        return rule.gather(module._parameters[name])

    return property(gathered)


def _with_gathering_properties(module: nn.Module, names: list[str]) -> None:
    """Gives ``module`` a class of its own whose properties gather ``names`` on access (a class
    property wins over ``nn.Module.__getattr__``, which would return the stored shard)."""
    base = type(module)
    namespace = {name: _gathering_property(name) for name in names}
    module.__class__ = type(f"DataParallel{base.__name__}", (base,), namespace)


def _shard_parameter(parameter: nn.Parameter, dp_mesh: Any, where: str) -> tuple[Any, Any]:
    """The stored shard (a Parameter holding a DTensor on ``dp_mesh``) and its gather rule."""
    from torch.distributed.tensor import DTensor, Shard

    tp_mesh: Any = None
    tp_placements: tuple[Any, ...] = ()
    local = parameter.detach()
    if isinstance(local, DTensor):
        tp_mesh, tp_placements = local.device_mesh, tuple(local.placements)
        local = local.to_local()
    size = dp_mesh.size()
    if local.dim() == 0 or local.shape[0] % size:
        raise CtcError(
            f"parameter '{where}' has local shape {list(local.shape)}: its first dimension must "
            f"divide evenly by the data-parallel size {size}"
        )
    rank = dp_mesh.get_local_rank()
    shard_rows = local.shape[0] // size
    own = local[rank * shard_rows : (rank + 1) * shard_rows].contiguous()
    stored = DTensor.from_local(own, dp_mesh, [Shard(0)], run_check=False)
    rule = _DataParallelParameter(dp_mesh, tp_mesh, tp_placements)
    return nn.Parameter(stored, requires_grad=parameter.requires_grad), rule


def shard_parameters(model: nn.Module, dp_mesh: Any) -> nn.Module:
    """Shards every parameter of ``model`` over the one-dimensional ``dp_mesh`` in place and
    returns ``model``. Build the model identically on every rank (same seed) before calling."""
    if dp_mesh.ndim != 1:
        raise CtcError(f"the data-parallel mesh must be one-dimensional, not {dp_mesh.ndim}-D")
    for path, module in model.named_modules():
        names = [name for name, p in module._parameters.items() if p is not None]
        if not names:
            continue
        rules: dict[str, _DataParallelParameter] = {}
        for name in names:
            where = f"{path}.{name}" if path else name
            stored, rules[name] = _shard_parameter(module._parameters[name], dp_mesh, where)
            module._parameters[name] = stored
        module._ctc_data_parallel = rules
        _with_gathering_properties(module, names)
    return model


def local_gradients(model: nn.Module) -> dict[str, torch.Tensor]:
    """Each parameter's gradient as this rank's local tensor (a DTensor gradient's shard)."""
    from torch.distributed.tensor import DTensor

    grads: dict[str, torch.Tensor] = {}
    for name, parameter in model.named_parameters():
        grad = parameter.grad
        if grad is None:
            continue
        grads[name] = grad.to_local() if isinstance(grad, DTensor) else grad
    return grads
