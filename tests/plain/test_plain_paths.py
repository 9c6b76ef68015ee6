"""The torchtitan-free paths, which must work under torch 2.11 as well as 2.13 (the GPU machine
has torch 2.11 and no torchtitan): a plain module, a step calling torch's functional collectives,
torch's own tensor parallelism, and tensor parallelism with ``ctc.models.simple_dp`` data
parallelism, each through capture -> IR text -> parse -> lower -> compile_joint, with loss and
gradients bitwise equal to eager. Under torch 2.11: ``make test-torch211``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ctc.launch import run_on_ranks
from tests.plain.steps import eager_and_compiled, several_kinds


def _assert_bitwise(results: list[dict[str, Any]]) -> None:
    for rank, result in enumerate(results):
        assert result["loss"].tobytes() == result["eager_loss"].tobytes(), f"rank {rank} loss"
        assert result["grads"].keys() == result["eager_grads"].keys(), f"rank {rank}"
        assert result["grads"], f"rank {rank} has no gradients"
        for name, want in result["eager_grads"].items():
            got = result["grads"][name]
            assert got.shape == want.shape, name
            assert np.array_equal(got, want), f"rank {rank} gradient of {name}"


def _forward_all_reduces(ir: str) -> list[str]:
    return [line for line in ir.splitlines() if "coll.all_reduce(" in line and '"fwd"' in line]


def test_plain_module_without_a_mesh_matches_eager_bitwise() -> None:
    result = eager_and_compiled(0, 1, "plain")
    _assert_bitwise([result])
    assert "coll." not in result["ir"]
    assert "aten.mm.default" in result["ir"]


@pytest.fixture(scope="module")
def one_rank() -> dict[str, dict[str, Any]]:
    cases = [("all_reduce", (1, 1)), ("tensor_data_parallel", (1, 1))]
    (results,) = run_on_ranks(several_kinds, 1, cases)
    return results


def test_functional_all_reduce_on_one_gloo_rank_matches_eager_bitwise(
    one_rank: dict[str, dict[str, Any]],
) -> None:
    result = one_rank["all_reduce"]
    _assert_bitwise([result])
    # One rank: "dp" and "tp" are the same process group, so both all-reduces name "dp".
    assert len(_forward_all_reduces(result["ir"])) == 2


def test_tensor_and_data_parallel_on_one_gloo_rank_matches_eager_bitwise(
    one_rank: dict[str, dict[str, Any]],
) -> None:
    result = one_rank["tensor_data_parallel"]
    _assert_bitwise([result])
    assert "aten.mm.default" in result["ir"]
    # One data-parallel rank: the gradients are the tensor-parallel model's.
    for name, want in result["summed_shards"].items():
        assert np.array_equal(result["eager_grads"][name], want), name


@pytest.mark.slow
def test_functional_all_reduce_on_two_gloo_ranks_matches_eager_bitwise() -> None:
    # On a 2 x 1 mesh, slicing "tp" (two groups of one) looks this rank up in the mesh, which
    # torch 2.11 traced and failed on (ctc.compat.mesh_slice_tracing).
    results = run_on_ranks(eager_and_compiled, 2, "all_reduce", (2, 1))
    _assert_bitwise(results)
    groups = [line.split("{")[1].split("}")[0] for line in _forward_all_reduces(results[0]["ir"])]
    assert groups == [
        'group = "dp", reduce_op = "sum", size = 2',
        'group = "tp", reduce_op = "sum", size = 1',
    ]


@pytest.mark.slow
def test_torch_tensor_parallel_on_two_gloo_ranks_matches_eager_bitwise() -> None:
    results = run_on_ranks(eager_and_compiled, 2, "tensor_parallel", (2,))
    _assert_bitwise(results)
    # w2 is row-parallel: its output is summed over tp in forward, and the input gradient of
    # w1 (column-parallel) in backward.
    assert results[0]["ir"].count("coll.all_reduce(") >= 2


@pytest.mark.slow
def test_tensor_and_data_parallel_on_four_gloo_ranks_matches_eager_bitwise() -> None:
    results = run_on_ranks(eager_and_compiled, 4, "tensor_data_parallel", (2, 2))
    _assert_bitwise(results)
    ir = results[0]["ir"]
    # One all-gather per weight forward, one reduce-scatter per gradient backward.
    assert ir.count("coll.all_gather(") == 4 and ir.count("coll.reduce_scatter(") == 4
    assert 'group = "dp_shard"' in ir and 'group = "tp"' in ir
    # Data parallelism sums the ranks' gradients: the reduce-scatter's sum against an all-reduce
    # of the tensor-parallel model's gradients (two addends: the same sum in any order).
    for result in results:
        for name, want in result["summed_shards"].items():
            assert np.array_equal(result["eager_grads"][name], want), name
