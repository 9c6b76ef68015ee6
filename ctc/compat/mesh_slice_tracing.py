"""Gap (torch 2.11; closed by 2.13): ``DeviceMesh.__getitem__`` builds a sub-mesh under
``unset_fake_temporarily()`` only, so slicing a mesh while AOT autograd traces a step (torchtitan's
SimpleFSDP does ``x._spec.mesh[names]`` in every parameter's forward) traces the sub-mesh's rank
lookup, ``(full_mesh == rank).nonzero()``, and fails on any rank whose mesh has more than one row:
"trying to get value out of a tracing tensor with aten._local_scalar_dense". torch 2.13 also
enters ``disable_proxy_modes_tracing()`` there.

``apply()`` makes ``DeviceMesh._create_sub_mesh`` run outside proxy tracing as 2.13 does; it
does nothing where ``__getitem__`` already disables proxy tracing itself.
"""

from __future__ import annotations

import functools
from typing import Any

_ORIGINAL: dict[str, Any] = {}


def needed() -> bool:
    from torch.distributed.device_mesh import DeviceMesh

    return "disable_proxy_modes_tracing" not in DeviceMesh.__getitem__.__code__.co_names


def apply() -> None:
    from torch.distributed.device_mesh import DeviceMesh
    from torch.fx.experimental.proxy_tensor import disable_proxy_modes_tracing

    if "create_sub_mesh" in _ORIGINAL or not needed():
        return
    original = DeviceMesh._create_sub_mesh
    _ORIGINAL["create_sub_mesh"] = original

    @functools.wraps(original)
    def create_sub_mesh_untraced(self: Any, *args: Any, **kwargs: Any) -> Any:
        with disable_proxy_modes_tracing():
            return original(self, *args, **kwargs)

    DeviceMesh._create_sub_mesh = create_sub_mesh_untraced  # type: ignore[method-assign]
