"""Capturing a training step as FX graphs with ``aot_export_joint_with_descriptors``.

Two tracers feed AOT autograd:
  direct  AOT traces the module itself (non-strict), inside a tracing context whose fake mode
          has a ShapeEnv (data-dependent sizes such as expert-parallel token counts become
          unbacked symbols) while the inputs stay static (``ignore_shape_env=True``). Module
          paths come from ``custom["module_fqn"]`` annotations that ``annotate_module_paths``
          adds for the duration of the capture.
  dynamo  ``dynamo_graph_capture_for_export`` first, as torchtitan's compiler toolkit does; its
          nodes carry ``nn_module_stack``. About twice as slow here (see bench/capture.py).
The capture keeps the export's ExitStack open (the joint's fake mode lives in it) until
``close()``; ``partition()`` runs torch's default partitioner exactly as training would, through
``aot_compile_joint_with_descriptors`` with compilers that record the forward and backward.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
import torch
import torch.fx as fx

from ctc.errors import CtcError

TRACERS = ("direct", "dynamo")
DECOMPOSITIONS = (None, "inductor")


@contextlib.contextmanager
def annotate_module_paths(module: torch.nn.Module) -> Iterator[None]:
    """Wraps every submodule's forward in ``torch.fx.traceback.annotate({"module_fqn": path})``
    while the context is open, so captured nodes (and, through ``seq_nr``, their backward
    nodes) carry the module path. Restores the forwards on exit."""
    from torch.fx.traceback import annotate_fn

    wrapped: list[tuple[torch.nn.Module, bool, Any]] = []
    try:
        for path, submodule in module.named_modules():
            if not path:
                continue
            had_own = "forward" in submodule.__dict__
            original = submodule.__dict__.get("forward")
            wrapped.append((submodule, had_own, original))
            submodule.forward = annotate_fn({"module_fqn": path})(submodule.forward)
        yield
    finally:
        for submodule, had_own, original in reversed(wrapped):
            if had_own:
                submodule.forward = original
            else:
                del submodule.forward


@attrs.define
class Captured:
    """A captured step: the ``JointWithDescriptors``, the tracing context to compile it in, and
    the export's ExitStack (close it, or use ``with``, before running anything compiled)."""

    joint: Any
    tracing_context: Any
    stack: contextlib.ExitStack
    tracer: str
    seconds: float
    # The decomposition table of the export: None (torch's default) or "inductor".
    decompositions: str | None = None

    @property
    def graph_module(self) -> fx.GraphModule:
        module: fx.GraphModule = self.joint.graph_module
        return module

    def partition(self) -> tuple[fx.GraphModule, fx.GraphModule]:
        """The forward and backward graphs of torch's default partitioner. Compiles the joint
        (with recording compilers), so call it once, after lifting the joint."""
        from torch._functorch.aot_autograd import (
            aot_compile_joint_with_descriptors,
            make_boxed_func,
        )

        graphs: dict[str, fx.GraphModule] = {}

        def recorder(stage: str) -> Any:
            def compiler(module: fx.GraphModule, example_inputs: Sequence[Any]) -> Any:
                graphs[stage] = module
                return make_boxed_func(module)

            return compiler

        with torch._guards.tracing(self.tracing_context):
            aot_compile_joint_with_descriptors(
                self.joint, fw_compiler=recorder("fwd"), bw_compiler=recorder("bwd")
            )
        if set(graphs) != {"fwd", "bwd"}:
            raise CtcError(f"the partitioner produced {sorted(graphs)} graphs, not fwd and bwd")
        return graphs["fwd"], graphs["bwd"]

    def close(self) -> None:
        self.stack.close()

    def __enter__(self) -> Captured:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fake_mode_of(module: torch.nn.Module, args: Sequence[Any]) -> Any:
    """The fake mode of a model initialised under fake tensors, or a fresh one with a ShapeEnv."""
    from torch._guards import detect_fake_mode
    from torch._subclasses import FakeTensorMode
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    tensors = [t for t in module.parameters()] + [t for t in module.buffers()]
    local = [t._local_tensor if hasattr(t, "_local_tensor") else t for t in tensors]
    mode = detect_fake_mode([*local, *[a for a in args if isinstance(a, torch.Tensor)]])
    if mode is not None:
        if mode.shape_env is None:
            raise CtcError("the model's fake tensors come from a fake mode without a ShapeEnv")
        return mode
    return FakeTensorMode(allow_non_fake_inputs=True, shape_env=ShapeEnv())


def export_joint(
    module: torch.nn.Module,
    args: Sequence[Any],
    kwargs: Mapping[str, Any] | None = None,
    *,
    tracer: str = "direct",
    module_paths: bool = True,
    decompositions: str | None = None,
) -> Captured:
    """Captures ``module(*args, **kwargs)`` and its backward as one joint graph. The module's
    outputs are differentiated (a training step returns its loss). ``decompositions="inductor"``
    exports with inductor's decomposition table, which compiling the whole graph with inductor
    needs."""
    from torch._functorch.aot_autograd import aot_export_joint_with_descriptors
    from torch._guards import TracingContext, tracing

    from ctc.compat import enable_torch_capture

    if tracer not in TRACERS:
        raise CtcError(f"unknown tracer '{tracer}' (known: {', '.join(TRACERS)})")
    enable_torch_capture()
    if decompositions not in DECOMPOSITIONS:
        known = ", ".join(str(d) for d in DECOMPOSITIONS)
        raise CtcError(f"unknown decomposition table '{decompositions}' (known: {known})")
    table = _decomposition_table(decompositions)
    args = tuple(args)
    kwargs = dict(kwargs or {})
    stack = contextlib.ExitStack()
    start = time.perf_counter()
    try:
        if tracer == "direct":
            context = TracingContext(_fake_mode_of(module, args))
            paths = annotate_module_paths(module) if module_paths else contextlib.nullcontext()
            with tracing(context), torch.fx.traceback.preserve_node_meta(), paths:
                joint = aot_export_joint_with_descriptors(
                    stack, module, args, kwargs, ignore_shape_env=True, decompositions=table
                )
        else:
            from torch._dynamo.functional_export import dynamo_graph_capture_for_export

            with (
                torch._dynamo.config.patch(fake_tensor_cache_enabled=False),
                torch.fx.traceback.preserve_node_meta(),
            ):
                captured = dynamo_graph_capture_for_export(module)(*args, **kwargs)
            context = captured.meta["tracing_context"]
            with tracing(context), torch.fx.traceback.preserve_node_meta():
                joint = aot_export_joint_with_descriptors(
                    stack, captured, args, kwargs, decompositions=table
                )
    except BaseException:
        stack.close()
        raise
    seconds = time.perf_counter() - start
    return Captured(joint, context, stack, tracer, seconds, decompositions)


def _decomposition_table(name: str | None) -> dict[Any, Any] | None:
    if name is None:
        return None
    from torch._inductor.decomposition import select_decomp_table

    return dict(select_decomp_table())
