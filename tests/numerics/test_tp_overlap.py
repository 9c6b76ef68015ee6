"""``tp_overlap`` on real gloo ranks: the split program computes the same loss and gradients.

Each output element is the same sum after the split, but a CPU matmul kernel may accumulate a
smaller shape in another order (oneDNN/MKL pick kernels by shape). So each comparison is bitwise
first; where it is not, the test says so (a warning naming what differs) and bounds the
difference. The runs of this file were bitwise equal when written.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

from ctc.launch import run_on_ranks
from tests.numerics.steps import tiny_step
from tests.numerics.tp_overlap_steps import golden_program

# The largest relative difference a different accumulation order may make: a few units in the
# last place of bf16 (8 bits of mantissa), relative to the largest value compared.
BOUND = {"bf16": 2**-6, "f32": 2**-18}


def _compare(what: str, want: np.ndarray, got: np.ndarray, dtype: str) -> None:
    assert want.shape == got.shape, what
    if np.array_equal(want, got):
        return
    scale = max(float(np.abs(want).max()), 1e-30)
    difference = float(np.abs(want - got).max()) / scale
    warnings.warn(
        f"{what}: not bitwise equal after tp_overlap; largest difference {difference:.2e} of the "
        "largest value (a matmul kernel summed a chunk in another order)",
        stacklevel=2,
    )
    assert difference <= BOUND[dtype], what


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["f32", "bf16"])
def test_the_golden_program_split_in_chunks_on_two_gloo_ranks(dtype: str) -> None:
    per_rank = run_on_ranks(golden_program, 2, (2, 4), dtype)
    for rank, (original, *splits) in enumerate(per_rank):
        for chunks, outputs in zip((2, 4), splits, strict=True):
            for index, (want, got) in enumerate(zip(original, outputs, strict=True)):
                _compare(f"rank {rank}, {chunks} chunks, output {index}", want, got, dtype)


def _check_steps(results: list[dict[str, Any]]) -> None:
    for rank, result in enumerate(results):
        _compare(f"rank {rank} losses", result["eager_loss"], result["loss"], "f32")
        for name, want in result["eager_grads"].items():
            _compare(f"rank {rank} gradient of {name}", want, result["grads"][name], "f32")


@pytest.mark.slow
def test_sequence_parallel_tiny_model_through_ctc_compile() -> None:
    results = run_on_ranks(tiny_step, 4, (2, 2), "tp_overlap(chunks=2)", 2, True)
    _check_steps(results)
    lines = results[0]["ir"].splitlines()
    # Two blocks, each gathering in the forward and in the backward (the gradient of its
    # reduce-scatter) and scattering in the forward; the backward scatters the input gradient of
    # the second block only (the step's input needs none): 4 and 3 sites, each split in two.
    for kind, sites in (("coll.all_gather", 4), ("coll.reduce_scatter", 3)):
        assert sum(kind in line and 'group = "tp"' in line for line in lines) == sites * 2


@pytest.mark.slow
def test_llama3_debugmodel_through_ctc_compile() -> None:
    from tests.numerics.harness import TrainConfig, train_rank

    config = TrainConfig(
        model="llama3",
        mesh="dp_shard=2,tp=2",
        passes="tp_overlap(chunks=2)",
        steps=2,
        batch=1,
        seq_len=64,
    )
    results = run_on_ranks(train_rank, 4, config)
    for rank, result in enumerate(results):
        for step in result["steps"]:
            assert step["loss"] == step["eager_loss"], f"rank {rank} step {step['step']} loss"
            assert step["grads_equal"], f"rank {rank} step {step['step']} gradients"
    by_group = results[0]["stats"]["collectives_by_group"]
    # The 25 tensor-parallel gather sites and 25 scatter sites, each split in two, add one
    # collective each (the captured step has 26 tp gathers and 26 tp scatters).
    assert by_group["coll.all_gather tp"]["count"] == 26 + 25
    assert by_group["coll.reduce_scatter tp"]["count"] == 26 + 25
