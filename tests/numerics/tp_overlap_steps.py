"""Rank workers for the ``tp_overlap`` numerics tests (importable, so spawned ranks can run them).

``golden_program``: the golden case's IR lowered to FX and run as it is and split into chunks, on
real gloo ranks of one ``tp`` group. ``sequence_parallel_tiny``: the tiny model with sequence
parallelism (its blocks' inputs sharded by rows over ``tp``: an all-gather before ``w1``, a
reduce-scatter after ``w2``), which ``steps.tiny_step`` trains eagerly and through
``ctc.compile``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CASE = Path(__file__).parents[1] / "golden" / "cases" / "tp_overlap.ctc"


def golden_program(rank: int, world_size: int, chunks: tuple[int, ...], dtype: str) -> Any:
    """The golden program's outputs on this rank: as written, then split into each of
    ``chunks``, on inputs in ``dtype`` (the same on every run, different per rank)."""
    import torch
    import torch.distributed as dist

    from ctc.ir import parse_module, print_module
    from ctc.lowering.to_fx import lower_function
    from ctc.schedule.passes.tp_overlap import TpOverlapPass

    module = parse_module(CASE.read_text().replace("bf16", dtype), str(CASE))
    group = dist.group.WORLD
    assert group is not None
    names = {("tp",): group.group_name}
    torch_dtype = {"bf16": torch.bfloat16, "f32": torch.float32}[dtype]
    generator = torch.Generator().manual_seed(100 + rank)
    func = module.functions[0]
    inputs = [
        torch.randn(tuple(arg.type.shape), generator=generator).to(torch_dtype)  # type: ignore[union-attr]
        for arg in func.args
    ]
    outputs = []
    for variant in [module, *(TpOverlapPass(chunks=c).run(module) for c in chunks)]:
        variant = parse_module(print_module(variant))
        lowered = lower_function(variant.functions[0], names, {})
        outputs.append([out.float().numpy().copy() for out in lowered(*inputs)])
    return outputs


def sequence_parallel_tiny(mesh: Any, seed: int = 0) -> Any:
    """ctc's tiny step with each block's ``w1`` gathering its input rows over ``tp`` and ``w2``
    reduce-scattering its output rows, every weight sharded over ``dp_shard`` by SimpleFSDP."""
    from torch.distributed.tensor import Shard
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel

    from ctc.models.tiny import build_tiny

    plan = {
        "w1": ColwiseParallel(input_layouts=Shard(0)),
        "w2": RowwiseParallel(output_layouts=Shard(0)),
    }
    return build_tiny(mesh, seed, tp_plan=plan)
