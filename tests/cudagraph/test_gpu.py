"""CUDA graphs on a GPU (marked ``gpu``; skipped without one): a step whose IR holds a collective
(``AllReduceStep``'s functional all-reduce) on a one-rank NCCL process group, and the tiny
llama-like step under bf16 autocast, each trained through ``ctc.compile`` with a pipeline ending
in ``cudagraph`` and without it, over 5 steps: losses and gradients equal (bitwise where the
kernels are deterministic), each stage's graph replayed exactly once per step after its capture,
and captured again after ``release_cuda_graphs``. Ranks run with ``NCCL_GRAPH_REGISTER=0``
(see ``ctc.cudagraphs``)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

from ctc.launch import run_on_ranks
from tests.cudagraph.checks import assert_replays_per_step, assert_same_training
from tests.cudagraph.steps import CASES, compare_pipelines

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

STEPS = 5
# Set before the rank starts: NCCL reads the first when its communicator starts, cuBLAS the
# second when deterministic algorithms are asked for.
RANK_ENVIRONMENT = {"NCCL_GRAPH_REGISTER": "0", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}


def _on_one_nccl_rank(names: list[str]) -> dict[str, dict[str, Any]]:
    saved = {key: os.environ.get(key) for key in RANK_ENVIRONMENT}
    os.environ.update(RANK_ENVIRONMENT)
    try:
        ((by_case),) = run_on_ranks(compare_pipelines, 1, names, STEPS, False, rank_timeout_s=300)
        return dict(by_case)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def all_reduce_results() -> dict[str, dict[str, Any]]:
    return _on_one_nccl_rank(["all_reduce", "all_reduce_inductor"])


@pytest.mark.parametrize("name", ["all_reduce", "all_reduce_inductor"])
def test_all_reduce_on_one_nccl_rank_trains_bitwise_under_cuda_graphs(
    all_reduce_results: dict[str, dict[str, Any]], name: str
) -> None:
    result = all_reduce_results[name]
    assert_same_training(result, bitwise=True)
    assert_replays_per_step(result["graphs"]["counts"], STEPS)
    assert "nccl" in result["graphs"]["process_group"]
    assert "coll.all_reduce(" in result["graphs"]["ir"]["fwd"]
    assert 'kind = "cudagraph"' in result["graphs"]["ir"]["fwd"]


def test_llama_under_bf16_autocast_trains_alike_under_cuda_graphs() -> None:
    result = _on_one_nccl_rank(["llama_inductor"])["llama_inductor"]
    assert_same_training(result, bitwise=CASES["llama_inductor"][3])
    assert_replays_per_step(result["graphs"]["counts"], STEPS)
