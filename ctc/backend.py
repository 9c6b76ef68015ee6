"""Running a captured step from its IR: lower ``@joint`` into the capture and compile it with
``aot_compile_joint_with_descriptors`` (torch's partitioner splits forward and backward).

The compiled callable takes ``(*parameters, *buffers, *inputs)`` (parameters as
``named_parameters(remove_duplicate=False)`` lists them) and returns the loss; ``backward()``
fills the parameters' gradients, as an eager step would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch

from ctc.errors import CtcError
from ctc.lowering.groups import create_stream_groups, streams_of
from ctc.lowering.joint import lower_into_joint
from ctc.lowering.to_fx import StreamGroupNames

if TYPE_CHECKING:
    from ctc.frontend.export import Captured
    from ctc.frontend.groups import MeshLayout
    from ctc.ir.core import Module


def _boxed(module: torch.fx.GraphModule, example_inputs: Sequence[Any]) -> Any:
    from torch._functorch.aot_autograd import make_boxed_func

    return make_boxed_func(module)


def compile_joint(
    captured: Captured,
    module: Module,
    layout: MeshLayout | None,
    fw_compiler: Callable[..., Any] = _boxed,
    bw_compiler: Callable[..., Any] = _boxed,
) -> Callable[..., Any]:
    """Installs the module's ``@joint`` (lowered from the IR alone) into ``captured`` and
    compiles it. Collectives run on the layout's process groups; collectives with a ``stream``
    get process groups of their own (created collectively: every rank must call this)."""
    from torch._functorch.aot_autograd import aot_compile_joint_with_descriptors

    joint = module.function("joint")
    group_names = layout.group_names() if layout is not None else {}
    stream_groups: StreamGroupNames = {}
    if streams_of(module):
        if not torch.distributed.is_initialized() or layout is None:
            raise CtcError("collectives with a stream need a live process group and a mesh")
        stream_groups = create_stream_groups(module, group_names, layout)
    lower_into_joint(joint, captured.joint, group_names, stream_groups)
    with torch._guards.tracing(captured.tracing_context):
        return aot_compile_joint_with_descriptors(
            captured.joint, fw_compiler=fw_compiler, bw_compiler=bw_compiler
        )
