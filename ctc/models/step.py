"""One call builds the training step of any model ctc knows: ``build_step(model, ...)``.

``BuiltStep`` is what a capture or a training harness needs: the module whose call returns the
loss, its example inputs, and the mesh layout naming its collectives' process groups. torchtitan's
models (``ctc.models.torchtitan``) also carry their flavor, mesh spec and torchtitan's parallel
dimensions; the tiny model (``ctc.models.tiny``) has none of those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from ctc.models.mesh import MeshSpec

if TYPE_CHECKING:
    import torch

    from ctc.frontend_fx.groups import MeshLayout
    from ctc.models.flavors import Flavor


@attrs.define
class BuiltStep:
    """A training step ready to capture: ``module(*args, **kwargs)`` returns the loss."""

    module: torch.nn.Module
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    layout: MeshLayout | None
    mesh: MeshSpec
    flavor: Flavor | None = None
    parallel_dims: Any = None


def build_step(
    model: str,
    flavor: str,
    mesh: str | MeshSpec,
    *,
    batch: int | None = None,
    seq_len: int | None = None,
    fake: bool = True,
    param_dtype: str | None = None,
    reduce_dtype: str | None = None,
    seed: int = 0,
    input_seed: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> BuiltStep:
    """The step of ``model`` (``llama3``, ``deepseek_v3`` or ``tiny``) on ``mesh``, under the
    live process group (or a fake one of the mesh's size). ``fake``: parameters as fake
    tensors (torchtitan models; the tiny one is always real). ``input_seed``: the tiny model's
    inputs (default: its own)."""
    spec = mesh if isinstance(mesh, MeshSpec) else MeshSpec.parse(mesh)
    if model == "tiny":
        from ctc.models.tiny import build_tiny_step

        return build_tiny_step(spec, seed=seed, param_dtype=param_dtype, input_seed=input_seed)
    from ctc.models.torchtitan import build_step as build_torchtitan_step

    return build_torchtitan_step(
        model,
        flavor,
        spec,
        batch=batch,
        seq_len=seq_len,
        fake=fake,
        param_dtype=param_dtype,
        reduce_dtype=reduce_dtype,
        seed=seed,
        progress=progress,
    )
