"""The library entry points for trainers and scripts (torch is imported when they are called)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ctc.errors import CtcError

if TYPE_CHECKING:
    import torch

    from ctc.frontend.groups import MeshLayout
    from ctc.ir.core import Module


def capture(
    model: torch.nn.Module,
    example_inputs: Sequence[Any],
    *,
    kwargs: Mapping[str, Any] | None = None,
    mesh: Any = None,
    stage: str | Sequence[str] = "joint",
    tracer: str = "direct",
    module_paths: bool = True,
) -> Module:
    """Captures one training step, ``model(*example_inputs, **kwargs)`` and the backward of its
    outputs (return the loss), and lifts it into the IR.

    mesh: a ``DeviceMesh`` or a ``ctc.frontend.MeshLayout`` naming the process groups of the
      collectives; by default the one root mesh of the model's DTensor parameters.
    stage: ``"joint"``, ``"fwd"``, ``"bwd"`` or a comma-separated list (``"fwd,bwd"``); the
      forward and backward come from torch's default partitioner.
    tracer: ``"direct"`` (AOT traces the module) or ``"dynamo"`` (dynamo first).
    module_paths: annotate each node with its module path while capturing (direct tracer).
    """
    from ctc.frontend import export_joint, lift_captured, parse_stages

    stages = parse_stages(stage)
    layout = resolve_layout(model, mesh)
    with export_joint(
        model, example_inputs, kwargs, tracer=tracer, module_paths=module_paths
    ) as captured:
        return lift_captured(captured, layout, stages)


def resolve_layout(model: torch.nn.Module, mesh: Any) -> MeshLayout | None:
    """The mesh layout for ``mesh`` (a DeviceMesh or MeshLayout), or found from the model's
    DTensor parameters and buffers when ``mesh`` is None (None if it has none)."""
    from torch.distributed.tensor import DTensor

    from ctc.frontend.groups import MeshLayout, layout_of_device_mesh

    if isinstance(mesh, MeshLayout):
        return mesh
    if mesh is not None:
        return layout_of_device_mesh(mesh)
    roots: dict[int, Any] = {}
    for tensor in [*model.parameters(), *model.buffers()]:
        if isinstance(tensor, DTensor):
            root = tensor.device_mesh._get_root_mesh()
            roots.setdefault(id(root), root)
    if len(roots) > 1:
        raise CtcError(
            f"the model's DTensors live on {len(roots)} different device meshes; "
            "pass mesh= (a DeviceMesh or a ctc.frontend.MeshLayout)"
        )
    if not roots:
        return None
    return layout_of_device_mesh(next(iter(roots.values())))
