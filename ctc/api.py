"""The library entry points for trainers and scripts (torch is imported when they are called)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ctc.errors import CtcError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import torch

    from ctc.compiled import CompiledModule, CompiledStep, CompileOptions
    from ctc.frontend_fx.groups import MeshLayout
    from ctc.ir.core import Module
    from ctc.passes.pipeline import Pipeline


def capture(
    model: torch.nn.Module,
    example_inputs: Sequence[Any],
    *,
    kwargs: Mapping[str, Any] | None = None,
    mesh: Any = None,
    stage: str | Sequence[str] = "joint",
    tracer: str = "direct",
    module_paths: bool = True,
    pipeline: str | Pipeline = "",
    decompositions: str | None = None,
) -> Module:
    """Captures one training step, ``model(*example_inputs, **kwargs)`` and the backward of its
    outputs (return the loss), and lifts it into the IR.

    mesh: a ``DeviceMesh`` or a ``ctc.frontend_fx.MeshLayout`` naming the process groups of the
      collectives; by default the one root mesh of the model's DTensor parameters.
    stage: ``"joint"``, ``"fwd"``, ``"bwd"`` or a comma-separated list (``"fwd,bwd"``); the
      forward and backward come from torch's default partitioner.
    tracer: ``"direct"`` (AOT traces the module) or ``"dynamo"`` (dynamo first).
    module_paths: annotate each node with its module path while capturing (direct tracer).
    pipeline: passes to run as training would: the joint ones before torch's partitioner splits
      the step (so ``reshard_after_forward`` shows in ``@fwd``/``@bwd``), the others on the
      stages they work on; each must have a stage among ``stage`` (and the joint) to run on.
    decompositions: ``"inductor"`` exports with inductor's table (``inductor(all)`` needs it;
      a pipeline with ``inductor(all)`` implies it).
    """
    from ctc.frontend_fx import export_joint, lift_captured, parse_stages

    stages = parse_stages(stage)
    layout = resolve_layout(model, mesh)
    if isinstance(pipeline, str) and pipeline:
        from ctc.dsl import parse_pipeline

        pipeline = parse_pipeline(pipeline)
    if pipeline and needs_inductor_decompositions(pipeline):
        decompositions = "inductor"
    with export_joint(
        model,
        example_inputs,
        kwargs,
        tracer=tracer,
        module_paths=module_paths,
        decompositions=decompositions,
    ) as captured:
        if not pipeline:
            return lift_captured(captured, layout, stages)
        return lift_with_passes(captured, layout, stages, pipeline)


def lift_with_passes(
    captured: Any, layout: MeshLayout | None, stages: tuple[str, ...], pipeline: Pipeline
) -> Module:
    """The requested stages of a capture, each after the pipeline's passes for it; the joint
    passes run before partitioning. Collectives on their own streams are lowered onto their
    mesh group for the partitioner (which only needs a valid graph)."""
    from ctc.frontend_fx import lift_captured, lift_function, saved_indices
    from ctc.ir.core import Module
    from ctc.lowering.groups import streams_of
    from ctc.lowering.joint import lower_into_joint
    from ctc.passes.stages import StagedRun

    split = [stage for stage in stages if stage != "joint"]
    staged = StagedRun(pipeline, available=("joint", *split))
    joint = staged.run(lift_captured(captured, layout, ("joint",)), "joint")
    functions = [joint.function("joint")] if "joint" in stages else []
    if split:
        names = dict(layout.group_names()) if layout is not None else {}
        streams = {(dims, stream): names[dims] for dims, stream in streams_of(joint)}
        lower_into_joint(joint.function("joint"), captured.joint, names, streams)
        forward, backward = captured.partition()
        graphs = {"fwd": (forward, None), "bwd": (backward, saved_indices(forward))}
        for stage in split:
            graph, saved = graphs[stage]
            func = lift_function(graph, stage, layout, saved)
            functions.append(staged.run(Module((func,), joint.attributes), stage).functions[0])
    return Module(tuple(functions), joint.attributes)


def resolve_layout(model: torch.nn.Module, mesh: Any) -> MeshLayout | None:
    """The mesh layout for ``mesh`` (a DeviceMesh or MeshLayout), or found from the model's
    DTensor parameters and buffers when ``mesh`` is None (None if it has none)."""
    from torch.distributed.tensor import DTensor

    from ctc.frontend_fx.groups import MeshLayout, layout_of_device_mesh

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
            "pass mesh= (a DeviceMesh or a ctc.frontend_fx.MeshLayout)"
        )
    if not roots:
        return None
    return layout_of_device_mesh(next(iter(roots.values())))


def compile(
    model: torch.nn.Module,
    loss_fn: Callable[..., Any] | None = None,
    pipeline: str | Pipeline = "",
    *,
    dump_dir: str | Path | None = None,
    mesh: Any = None,
    tracer: str = "direct",
    device: str | None = None,
    verify_each: bool = False,
    print_ir_after_all: bool = False,
    ir: str | Path | None = None,
) -> CompiledModule:
    """``model`` (with ``loss_fn`` applied to its output, when given) trained through ctc.

    Returns a ``CompiledModule``: call it as the model (``compiled(*inputs, **kwargs)``; with a
    loss function ``compiled(*inputs, loss_args=(labels, ...), **kwargs)`` returns
    ``loss_fn(model(*inputs, **kwargs), *loss_args)``), then ``backward()`` the result. The first
    training call captures the step and compiles every stage of ``pipeline`` (a ctc pipeline
    string or the reference's comma list, e.g. ``"transformer_block_bucketing,regional_inductor"``);
    ``dump_dir`` receives the IR after capture, after the joint passes and of ``@fwd``/``@bwd``
    before and after theirs (rank 0 writes). The pipeline is checked now, for ``device``
    (default: this machine's), so a bad one fails before anything is captured.
    mesh: as for ``ctc.capture``. tracer: ``"direct"`` or ``"dynamo"``. ir: an IR file whose
    ``@joint`` is trained instead of the captured one, after a check that it is this step's
    (same arguments, parameters, types and mesh; the first difference is the error).
    """
    from pathlib import Path

    from ctc.compiled import CompiledModule, CompileOptions
    from ctc.dsl import detect_device, parse_pipeline
    from ctc.passes.manager import RunOptions
    from ctc.passes.stages import plan_stages

    if isinstance(pipeline, str):
        pipeline = parse_pipeline(pipeline, device=device or detect_device())
    plan_stages(pipeline)
    options = CompileOptions(
        pipeline=pipeline,
        dump_dir=Path(dump_dir) if dump_dir is not None else None,
        mesh=mesh,
        tracer=tracer,
        run=RunOptions(verify_each=verify_each, print_ir_after_all=print_ir_after_all),
        ir=Path(ir) if ir is not None else None,
    )
    return CompiledModule(model, loss_fn, options)


def needs_inductor_decompositions(pipeline: Pipeline) -> bool:
    """Whether a pipeline compiles whole graphs with inductor (``inductor(all)``)."""
    from ctc.passes.inductor import InductorPass

    return any(
        isinstance(entry.pass_, InductorPass) and entry.pass_.scope == "all"
        for entry in pipeline.entries
    )


def build_compiled_step(
    step: torch.nn.Module, inputs: tuple[Any, ...], options: CompileOptions
) -> CompiledStep:
    """Captures ``step(*inputs)`` with its backward, runs the joint passes, and compiles it
    (the forward and backward passes run inside; see ``ctc.backend_inductor``)."""
    import time

    from ctc import ranks
    from ctc.backend_inductor import StepReport, compile_joint
    from ctc.compiled import CompiledStep
    from ctc.frontend_fx import export_joint, lift_captured
    from ctc.ir import parse_module, print_module
    from ctc.passes.stages import StagedRun

    start = time.perf_counter()
    staged = StagedRun(
        options.pipeline, options.run, options.dump_dir if ranks.is_first() else None
    )
    decompositions = "inductor" if needs_inductor_decompositions(options.pipeline) else None
    layout = resolve_layout(step, options.mesh)
    report = StepReport()
    with export_joint(
        step, inputs, tracer=options.tracer, decompositions=decompositions
    ) as captured:
        # Each rank lifts its own capture: it may hold the rank's coordinates (see ctc.ranks).
        lifted = lift_captured(captured, layout)
        if options.ir is not None:
            lifted = ir_for_capture(
                options.ir, lifted, ranks.first_difference(print_module(lifted))
            )
        joint = parse_module(print_module(staged.run(lifted, "joint")), "<@joint>")
        report.modules["joint"] = joint
        function = compile_joint(captured, joint, layout, staged, report)
    return CompiledStep(function, report, time.perf_counter() - start)


def ir_for_capture(path: Path, lifted: Module, ranks_apart: str | None = None) -> Module:
    """The module of an IR file, when its ``@joint`` is the captured step's (see
    ``ctc.frontend_fx.match``); a ``CtcError`` names the first difference otherwise.
    ``ranks_apart``: where the ranks' own captures differ (``ctc.ranks.first_difference``): one
    file cannot be every rank's step then, and is refused."""
    from ctc.frontend_fx.match import check_same_step
    from ctc.ir import parse_module

    if ranks_apart is not None:
        raise CtcError(
            f"{path}: one IR file cannot train this step, whose IR differs between ranks "
            f"({ranks_apart}); capture a mesh whose ranks share their IR (no tensor "
            "parallelism of the embedding), or train without --ir"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CtcError(f"cannot read the IR file {path}: {error.strerror or error}") from None
    given = parse_module(text, str(path))
    check_same_step(given, lifted, str(path))
    return given
