"""Capture -> lift -> print -> parse -> lower -> aot_compile_joint_with_descriptors -> run gives
loss and every gradient bitwise equal to the eager DTensor step, on real gloo ranks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ctc.launch import run_on_ranks
from tests.numerics.steps import tiny_step


def _assert_bitwise(results: list[dict[str, Any]]) -> None:
    for rank, result in enumerate(results):
        assert result["loss"].tobytes() == result["eager_loss"].tobytes(), f"rank {rank} loss"
        assert result["grads"].keys() == result["eager_grads"].keys()
        for name, want in result["eager_grads"].items():
            got = result["grads"][name]
            assert got.shape == want.shape, name
            assert np.array_equal(got, want), f"rank {rank} gradient of {name}"


def test_tiny_model_on_one_process_matches_eager_bitwise() -> None:
    (result,) = run_on_ranks(tiny_step, 1, (1, 1), "")
    _assert_bitwise([result])
    assert "aten.mm.default" in result["ir"]


@pytest.mark.slow
def test_tiny_model_on_four_gloo_ranks_matches_eager_bitwise() -> None:
    results = run_on_ranks(tiny_step, 4, (2, 2), "")
    _assert_bitwise(results)
    ir = results[0]["ir"]
    assert 'group = "dp_shard", size = 2' in ir and 'group = "tp", reduce_op = "sum"' in ir


@pytest.mark.slow
def test_bucketed_tiny_model_on_four_gloo_ranks_matches_eager_bitwise() -> None:
    results = run_on_ranks(tiny_step, 4, (2, 2), "bucket(block)")
    _assert_bitwise(results)
    assert 'stream = "fsdp_all_gather"' in results[0]["ir"]


# Reduction groups of 4 ranks: with 2 ranks a reordered or bucketed sum cannot differ.
JOINT_PIPELINES = [
    "",
    "bucket(block)",
    "bucket(auto)",
    "reorder",
    "reshard_after_forward",
    "transformer_block_bucketing",
    "autobucketing_reordering",
]


@pytest.mark.slow
def test_tiny_model_on_dp_shard_4_is_bitwise_eager_over_five_steps_with_every_joint_pass() -> None:
    from tests.numerics.steps import tiny_pipelines

    results = run_on_ranks(tiny_pipelines, 4, (4, 1), JOINT_PIPELINES, 5)
    for text in JOINT_PIPELINES:
        _assert_bitwise([rank_results[text] for rank_results in results])
        assert len(results[0][text]["loss"]) == 5


@pytest.mark.slow
def test_llama3_on_dp_shard_4_is_bitwise_eager_over_five_steps() -> None:
    from tests.numerics.steps import torchtitan_pipelines

    pipelines = ["", "transformer_block_bucketing", "autobucketing_reordering"]
    results = run_on_ranks(torchtitan_pipelines, 4, "llama3", "dp_shard=4", pipelines, 5)
    for rank, rank_results in enumerate(results):
        for text in pipelines:
            assert rank_results[text] == [(True, True)] * 5, (rank, text, rank_results[text])
