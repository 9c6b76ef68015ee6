"""Properties of bucket(block), bucket(auto) and reorder over random FSDP-like steps, and the
golden output of bucket(block) on examples/two_block_fsdp.ctc."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ctc.errors import CtcError
from ctc.ir import CollectiveOp, DictAttr, Module, Op, parse_file, print_module, verify
from ctc.passes.base import Pass
from ctc.passes.options import Size
from ctc.schedule.bucketing import bucket_bytes, returned_roles
from ctc.schedule.graph import DependencyGraph, collective_order, flatten
from ctc.schedule.memory import memory_profile
from ctc.schedule.passes.bucket import BucketPass
from ctc.schedule.passes.reorder import ReorderPass
from ctc.schedule.units import CommUnit
from tests.schedule import interpret
from tests.schedule.programs import Param, Program, build, programs

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "two_block_fsdp.ctc"
GOLDEN = Path(__file__).parent / "golden" / "two_block_fsdp.bucket_block.ctc"

PASSES: list[Pass] = [
    BucketPass("block"),
    BucketPass("block", prefetch=0),
    BucketPass("block", prefetch=3, cap=Size(40, "B"), split_streams=False),
    BucketPass("auto"),
    BucketPass("auto", device="cpu", memory_budget=4.0, cap=None),
    BucketPass("auto", device="h100-ib", memory_budget=Size(10**9, "B")),
    ReorderPass(),
    ReorderPass(memory_budget=10.0),
]
SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ops(module: Module) -> list[Op]:
    return list(flatten(module.functions[0]).ops)


def _compute_ops(module: Module) -> Counter[tuple[str, tuple[str, ...]]]:
    """Ops other than collectives and waits, by name and result names."""
    return Counter(
        (op.name, tuple(r.name for r in op.results))
        for op in _ops(module)
        if not op.name.startswith("coll.")
    )


@pytest.mark.parametrize("scheduling_pass", PASSES, ids=str)
@SETTINGS
@given(program=programs())
def test_every_op_once_in_a_valid_order(scheduling_pass: Pass, program: Program) -> None:
    module = build(program)
    result = scheduling_pass.run(module)
    assert verify(result) == []
    before, after = _compute_ops(module), _compute_ops(result)
    assert not before - after and max(after.values()) == 1
    # New ops are bucket copies: fresh values, or the values the members' waits defined.
    waited = {op.results[0].name for op in _ops(module) if op.name == "coll.wait"}
    for _, names in after - before:
        assert all(name.startswith("bucket") or name in waited for name in names)
    # Reorder keeps the very same ops, so the input's dependency graph must accept the new order.
    if isinstance(scheduling_pass, ReorderPass):
        position = {id(op): i for i, op in enumerate(_ops(module))}
        order = [position[id(op)] for op in _ops(result)]
        assert DependencyGraph(_ops(module)).respects(order)


@pytest.mark.parametrize("scheduling_pass", PASSES, ids=str)
@SETTINGS
@given(program=programs(), seed=st.integers(0, 2**16))
def test_same_values_on_every_rank(scheduling_pass: Pass, program: Program, seed: int) -> None:
    module = build(program)
    result = scheduling_pass.run(module)
    args = interpret.random_args(module.functions[0], 2, seed)
    expected = interpret.run(module.functions[0], args)
    actual = interpret.run(result.functions[0], args)
    for rank_expected, rank_actual in zip(expected, actual, strict=True):
        for want, got in zip(rank_expected, rank_actual, strict=True):
            assert want.shape == got.shape and np.array_equal(want, got)


@pytest.mark.parametrize("scheduling_pass", PASSES, ids=str)
@SETTINGS
@given(program=programs())
def test_ranks_that_name_values_differently_decide_the_same(
    scheduling_pass: Pass, program: Program
) -> None:
    """Graphs captured on two ranks differ at most in value names; the schedules must agree
    op for op, so every process group sees the same collectives in the same order."""
    ours = scheduling_pass.run(build(program))
    theirs = scheduling_pass.run(build(program, names=lambda name: f"r1_{name}"))
    assert len(_ops(ours)) == len(_ops(theirs))
    for mine, other in zip(_ops(ours), _ops(theirs), strict=True):
        assert (mine.name, mine.attributes) == (other.name, other.attributes)
        assert [str(v.type) for v in mine.operand_values()] == [
            str(v.type) for v in other.operand_values()
        ]
    signature = {
        stream: [(op.name, op.attributes, str(op.results[0].type)) for op in ops]
        for stream, ops in collective_order(_ops(ours)).items()
    }
    assert signature == {
        stream: [(op.name, op.attributes, str(op.results[0].type)) for op in ops]
        for stream, ops in collective_order(_ops(theirs)).items()
    }


@SETTINGS
@given(program=programs())
def test_reorder_keeps_each_groups_collective_order(program: Program) -> None:
    module = build(program)
    result = ReorderPass(memory_budget=100.0).run(module)

    def names(m: Module) -> dict[str, list[str]]:
        order = collective_order(_ops(m))
        return {s: [op.results[0].name for op in ops] for s, ops in order.items()}

    assert names(result) == names(module)


@SETTINGS
@given(program=programs(), cap=st.integers(8, 200))
def test_buckets_respect_the_cap(program: Program, cap: int) -> None:
    for mode in ("block", "auto"):
        result = BucketPass(mode, cap=Size(cap, "B"), memory_budget=100.0).run(build(program))
        for op in _ops(result):
            if isinstance(op, CollectiveOp) and op.results[0].name.startswith("bucket"):
                unit = CommUnit((op,), (), 0)
                assert bucket_bytes([unit]) <= cap


@SETTINGS
@given(program=programs(), ratio=st.sampled_from([1.0, 1.02, 1.1, 1.5]))
def test_memory_budget_is_never_exceeded(program: Program, ratio: float) -> None:
    module = build(program)
    func = module.functions[0]
    budget = ratio * memory_profile(flatten(func).ops, func.args).peak_bytes
    for scheduling_pass in (BucketPass("auto", memory_budget=ratio), ReorderPass(ratio)):
        result = scheduling_pass.run(module).functions[0]
        assert memory_profile(flatten(result).ops, result.args).peak_bytes <= budget
    try:
        result = BucketPass("block", memory_budget=ratio).run(module).functions[0]
    except CtcError as error:
        assert "memory_budget" in str(error)
    else:
        assert memory_profile(flatten(result).ops, result.args).peak_bytes <= budget


def test_block_buckets_one_bucket_per_block_and_direction() -> None:
    result = BucketPass("block").run(parse_file(EXAMPLE))
    collectives = [op for op in _ops(result) if isinstance(op, CollectiveOp)]
    names = [op.results[0].name for op in collectives]
    assert names == [
        "bucket0.ag",  # layers.0, issued at the start
        "bucket1.ag",  # layers.1, prefetched before layers.0 computes
        "ag_norm_full",
        "ag_out_full",
        "rs_gr_out",
        "rs_gr_norm",
        "bucket2.rs",  # layers.1 gradients
        "bucket3.rs",  # layers.0 gradients
    ]
    gathers = [op for op in collectives if op.name == "coll.all_gather"]
    assert all(op.attr("stream") is not None for op in gathers)


def test_bucket_block_golden(request: pytest.FixtureRequest) -> None:
    text = print_module(BucketPass("block").run(parse_file(EXAMPLE)))
    if request.config.getoption("--update-goldens", default=False):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert GOLDEN.exists(), f"{GOLDEN} is missing: run pytest with --update-goldens"
    assert text == GOLDEN.read_text()


def test_pipeline_text() -> None:
    assert str(BucketPass("block")) == "bucket(block)"
    assert str(BucketPass("auto", prefetch=2, cap=None)) == "bucket(auto, prefetch=2, cap=none)"
    assert str(ReorderPass(memory_budget=1.5)) == "reorder(memory_budget=1.5)"


def test_memory_budget_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="memory_budget"):
        ReorderPass(memory_budget=0.5)


def test_gradients_found_behind_the_descriptor_attribute() -> None:
    """Captured functions put the AOT descriptor first in result attributes (``desc``, then
    ``grad``): their reduce-scatters are still FSDP gradient reductions, and get bucketed."""
    module = build(
        Program(
            (tuple(Param(f"layers.0.p{i}", (2, 3), True, False) for i in range(2)),),
            (False,),
            False,
        )
    )
    func = module.functions[0]
    described = tuple(
        DictAttr.of({"desc": f"GradAOTOutput({i})", **attributes.py})
        for i, attributes in enumerate(func.result_attrs)
    )
    module = attrs.evolve(module, functions=(attrs.evolve(func, result_attrs=described),))
    assert returned_roles(module.functions[0])["gr0"] == "grad"
    result = BucketPass("block").run(module)
    names = [op.results[0].name for op in _ops(result) if op.name == "coll.reduce_scatter"]
    assert len(names) == 1 and names[0].startswith("bucket")
