"""Bucketed programs run for real: examples/two_block_fsdp.ctc and its bucket(block) /
bucket(auto) / reorder outputs, lowered to FX and run on 2 gloo ranks, give bitwise the same
loss and gradients. Collectives with a ``stream`` (FSDP all-gathers under split_streams) run on
process groups of their own, as the simulator models them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ctc.ir import Module, parse_file
from ctc.schedule.passes.bucket import BucketPass
from ctc.schedule.passes.reorder import ReorderPass

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_block_fsdp.ctc"


def _run(rank: int, world_size: int, modules: list[Module]) -> list[list[Any]]:
    import torch
    import torch.distributed as dist

    from ctc.frontend_fx.groups import MeshLayout, RankGrid
    from ctc.lowering.groups import create_stream_groups
    from ctc.lowering.to_fx import lower_function

    group = dist.group.WORLD
    assert group is not None
    results = []
    for variant in modules:
        func = variant.functions[0]
        base = {("dp_shard",): group.group_name}
        grid = RankGrid((("dp_shard",),), (world_size,), tuple(range(world_size)), (None,))
        layout = MeshLayout([("dp_shard", world_size)], [grid], rank=rank)
        streams = create_stream_groups(variant, base, layout)
        module = lower_function(func, base, streams)
        if func is not modules[0].functions[0] and "stream" in str(variant):
            assert streams, "split_streams collectives got no process group of their own"
        generator = torch.Generator().manual_seed(1000 + rank)
        inputs = [
            torch.randn(tuple(arg.type.shape), generator=generator)  # type: ignore[union-attr]
            for arg in func.args
        ]
        outputs = module(*inputs)
        results.append([output.clone().numpy() for output in outputs])
    return results


@pytest.mark.slow
def test_bucketed_programs_compute_the_same_on_two_gloo_ranks() -> None:
    pytest.importorskip("torch")
    from ctc.launch import run_on_ranks

    module = parse_file(EXAMPLE)
    variants = [
        module,
        BucketPass("block").run(module),
        BucketPass("auto", device="cpu", memory_budget=10.0).run(module),
        ReorderPass(memory_budget=10.0).run(module),
    ]
    assert 'stream = "fsdp_all_gather"' in str(variants[1])
    per_rank = run_on_ranks(_run, 2, variants)
    for results in per_rank:
        expected = results[0]
        for variant in results[1:]:
            assert len(variant) == len(expected)
            for want, got in zip(expected, variant, strict=True):
                assert want.shape == got.shape and (want == got).all()
