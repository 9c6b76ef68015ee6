"""Every joint-stage scheduling pass keeps the captured joint partitionable by torch's default
partitioner (the one ``aot_compile_joint_with_descriptors`` runs): mission models, fake process
group, one capture per model (slow)."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from typing import Any

import pytest

from ctc.dsl import parse_pipeline
from ctc.ir import parse_module, print_module
from ctc.passes.manager import PassManager, RunOptions

pytestmark = pytest.mark.slow

# The reference's aliases expand to these (checked below), so they are covered too.
PIPELINES = [
    "bucket(block)",
    "bucket(auto)",
    "reorder",
    "reshard_after_forward",
    "reshard_after_forward,bucket(auto),reorder",
    "reshard_after_forward,bucket(block)",
]
ALIASES = {
    "autobucketing_reordering": "reshard_after_forward,bucket(auto),reorder",
    "transformer_block_bucketing": "reshard_after_forward,bucket(block)",
}
MODELS = [("llama3", "dp_shard=2,tp=4"), ("deepseek_v3", "dp_shard=2,tp=2,ep=2")]


def _fake_stream_groups(module: Any, layout: Any) -> dict[Any, str]:
    """Stream collectives lowered onto their mesh group's name: the partitioner only needs a
    valid graph, not a second communicator."""
    from ctc.lowering.groups import streams_of

    names = layout.group_names()
    return {(dims, stream): names[dims] for dims, stream in streams_of(module)}


def test_the_aliases_are_the_pipelines_tested() -> None:
    for alias, expansion in ALIASES.items():
        assert parse_pipeline(alias) == parse_pipeline(expansion)


@pytest.mark.parametrize(("model", "mesh"), MODELS)
def test_joint_passes_keep_the_joint_partitionable(model: str, mesh: str) -> None:
    # Each model in a fresh process: fake process groups of different sizes do not mix.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        failures = pool.submit(partition_failures, model, mesh).result()
    assert not failures, failures


def partition_failures(model: str, mesh: str) -> list[str]:
    """The pipelines whose output the partitioner refuses, with its message."""
    from ctc.frontend_fx import export_joint, lift_captured
    from ctc.lowering.joint import lower_into_joint
    from ctc.models.torchtitan import build_step

    built = build_step(model, "debugmodel", mesh, batch=1, seq_len=64, fake=True)
    failures = []
    for text in PIPELINES:
        # A capture compiles once: each pipeline gets its own.
        with export_joint(built.module, built.args, built.kwargs) as captured:
            lifted = parse_module(print_module(lift_captured(captured, built.layout)))
            pipeline = parse_pipeline(text, device="cpu")
            module = PassManager(pipeline, RunOptions(verify_each=True)).run(lifted)
            if text.startswith("bucket") and module == lifted:
                failures.append(f"{text} changed nothing")
            streams = _fake_stream_groups(module, built.layout)
            lower_into_joint(
                module.function("joint"), captured.joint, built.layout.group_names(), streams
            )
            try:
                forward, _ = captured.partition()
            except AssertionError as error:
                failures.append(f"{text}: {error}")
                continue
            tangents = [
                n for n in forward.graph.nodes if n.op == "placeholder" and "tangent" in n.name
            ]
            if tangents:
                failures.append(f"{text}: the forward takes tangents")
    return failures
