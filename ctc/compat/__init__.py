"""Workarounds for gaps in torch (2.11 and 2.13) / torchtitan 0.3.0, one small named module per gap.

Each module says which upstream gap it covers, patches only what that gap needs, is idempotent,
and has a test in ``tests/compat`` that fails once the gap closes (so the workaround can go).
``enable_torch_capture`` applies the ones any capture needs under the installed torch (the
frontend calls it); ``enable_torchtitan_capture`` the ones a torchtitan capture needs on this
machine.
"""

from __future__ import annotations

from ctc.compat import (
    blockmask_pytree,
    distributed_set_timeout,
    flex_backward_cpu,
    flex_compiled_in_export,
    mesh_slice_tracing,
    torchtitan_device,
)

__all__ = [
    "blockmask_pytree",
    "distributed_set_timeout",
    "enable_torch_capture",
    "enable_torchtitan_capture",
    "enable_torchtitan_training",
    "flex_backward_cpu",
    "flex_compiled_in_export",
    "mesh_slice_tracing",
    "torchtitan_device",
]


def enable_torch_capture() -> None:
    """What capturing any step needs under the installed torch (each patch checks that its gap
    is there): device-mesh slicing inside a traced step (torch 2.11)."""
    mesh_slice_tracing.apply()


def enable_torchtitan_capture() -> None:
    """Everything capturing a torchtitan model needs: the CPU device shim where no accelerator
    exists, FlexAttention's backward on the CPU, the raw flex function under AOT export, and
    BlockMask as a pytree node."""
    torchtitan_device.apply()
    flex_backward_cpu.apply()
    flex_compiled_in_export.apply()
    blockmask_pytree.apply()


def enable_torchtitan_training() -> None:
    """What torchtitan's trainer needs on this machine beyond capture: the process groups'
    timeout setter torch 2.13 lacks."""
    enable_torchtitan_capture()
    distributed_set_timeout.apply()
