"""Assertions shared by the simulated (CPU) and real (GPU) CUDA graph tests."""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch


def _bits(values: Any) -> torch.Tensor:
    """float32 values (as Python floats, which hold them exactly) as their bit patterns."""
    return torch.tensor(values, dtype=torch.float32).view(torch.int32)


def assert_same_training(result: dict[str, Any], bitwise: bool) -> None:
    """Every step's loss and gradients under graphs equal those without (bitwise, or close where atomics in the kernels make the order of
    additions vary)."""
    assert "error" not in result, result.get("error")
    graphs, reference = result["graphs"], result["reference"]
    assert len(graphs["losses"]) == len(reference["losses"])
    for step, (got, want) in enumerate(zip(graphs["losses"], reference["losses"], strict=True)):
        assert math.isfinite(got), f"step {step}: loss {got}"
        if bitwise:
            assert torch.equal(_bits(got), _bits(want)), f"step {step}: loss {got} vs {want}"
        else:
            assert math.isclose(got, want, rel_tol=1e-3, abs_tol=1e-4), (step, got, want)
    for step, (got, want) in enumerate(zip(graphs["grads"], reference["grads"], strict=True)):
        assert got.keys() == want.keys() and got
        for name in got:
            if bitwise:
                assert torch.equal(_bits(got[name]), _bits(want[name])), (step, name)
            else:
                torch.testing.assert_close(
                    torch.tensor(got[name]), torch.tensor(want[name]), rtol=1e-2, atol=1e-4
                )
    assert not graphs["grad_aliases"], "a parameter's .grad is the graph's static output"


def assert_replays_per_step(counts: list[dict[str, dict[str, int]]], steps: int) -> None:
    """Step 1 warms up, step 2 captures and replays, every later step replays each stage's graph
    exactly once; after ``release_cuda_graphs`` (the last entry) the step warms up again."""
    assert len(counts) == steps + 1
    for stage in ("fwd", "bwd"):
        series = [step[stage] for step in counts]
        assert series[0] == {"warmups": 1, "captures": 0, "replays": 0}, (stage, series[0])
        assert series[1] == {"warmups": 1, "captures": 1, "replays": 1}, (stage, series[1])
        for before, after in itertools.pairwise(series[1:steps]):
            assert after["replays"] - before["replays"] == 1, (stage, before, after)
            assert after["captures"] == 1 and after["warmups"] == 1, (stage, after)
        released = series[steps]
        assert released == {"warmups": 2, "captures": 1, "replays": steps - 1}, (stage, released)
