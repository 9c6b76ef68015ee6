"""Gaps between torch releases that ctc.compat covers (torch 2.11 on the GPU machine, 2.13 here).
Each test checks that a module's ``needed()`` says exactly when its gap is there, so it fails once
the gap closes in a torch where the module still patches. torchtitan-free: these also run under
torch 2.11 (``make test-torch211``)."""

from __future__ import annotations

import subprocess
import sys


def _fresh_python(code: str) -> str:
    """Runs ``code`` in a new interpreter (no patches applied) and returns its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    return result.stdout.strip()


# Rank 1 of a fake 2 x 2 mesh slices "tp" while make_fx traces: its sub-mesh lookup is the
# data-dependent ``(full_mesh == rank).nonzero()`` that torch 2.11 traces.
_SLICE_WHILE_TRACING = """
import torch
import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh
from torch.fx.experimental.proxy_tensor import make_fx
from torch.testing._internal.distributed.fake_pg import FakeStore

dist.init_process_group("fake", store=FakeStore(), rank=1, world_size=4)
mesh = init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp_shard", "tp"))
{patch}
try:
    make_fx(lambda x: x * mesh["tp"].size())(torch.ones(2))
    print("traced")
except RuntimeError as error:
    print("local_scalar_dense" if "_local_scalar_dense" in str(error) else repr(error))
"""


def test_mesh_slicing_while_tracing_fails_exactly_where_the_patch_applies() -> None:
    from ctc.compat import mesh_slice_tracing

    unpatched = _fresh_python(_SLICE_WHILE_TRACING.format(patch=""))
    assert unpatched == ("local_scalar_dense" if mesh_slice_tracing.needed() else "traced")
    patch = "from ctc.compat import mesh_slice_tracing; mesh_slice_tracing.apply()"
    assert _fresh_python(_SLICE_WHILE_TRACING.format(patch=patch)) == "traced"
