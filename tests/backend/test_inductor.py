"""Inductor through ``ctc.compile`` on the CPU (slow: each test compiles with inductor).

Numerics: inductor fuses, so the step is compared with eager by a tolerance that torch itself
sets: the difference from eager is at most twice the difference ``torch.compile`` shows on the
same step (floored at a few float32 ulps of the values, where both are exact). What ran: the
inductor-compiled regions that executed are exactly the ``ctc.region {kind = "inductor"}``
regions of the dumped ``@fwd``/``@bwd``, less those whose higher-order ops fell back.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import ctc
from ctc.errors import CtcWarning
from ctc.ir import RegionOp, parse_module, verify, walk_ops
from tests.backend.test_compile import batch, mse, pair

pytestmark = pytest.mark.slow


def _step(model: Callable[..., Any], x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return mse(model(x), target)


def _grads(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in model.parameters()]  # type: ignore[union-attr]


def _difference(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))


def _floor(values: list[torch.Tensor]) -> float:
    """A few float32 ulps of the largest value: where both compilers are exact."""
    largest = max(float(v.abs().max()) for v in values)
    return 4 * torch.finfo(torch.float32).eps * max(largest, 1.0)


def _eager_and_torch_compile(annotate: bool) -> tuple[list[torch.Tensor], float]:
    """Eager loss and gradients, and torch.compile's largest difference from them."""
    model, twin = pair(annotate)
    x, target = batch()
    loss = _step(model, x, target)
    loss.backward()
    eager = [loss.detach(), *_grads(model)]
    compiled = torch.compile(twin)
    other = _step(compiled, x, target)
    other.backward()
    return eager, _difference(eager, [other.detach(), *_grads(twin)])


def _regions(path: Path) -> set[tuple[str, int]]:
    """(name, ordinal) of the inductor regions of a dumped stage, in IR order."""
    module = parse_module(path.read_text(), str(path))
    assert verify(module) == []
    regions = [
        op
        for op in walk_ops(module.functions[0].ops)
        if isinstance(op, RegionOp) and op.kind == "inductor"
    ]
    return {(region.region_name, ordinal) for ordinal, region in enumerate(regions)}


@pytest.mark.parametrize(
    ("pipeline", "annotate"), [("inductor(regions)", True), ("inductor(all)", False)]
)
def test_inductor_matches_eager_within_torch_compiles_difference(
    tmp_path: Path, pipeline: str, annotate: bool
) -> None:
    eager, torch_difference = _eager_and_torch_compile(annotate)
    model, _ = pair(annotate)
    compiled = ctc.compile(model, mse, pipeline, device="cpu", dump_dir=tmp_path)
    x, target = batch()
    loss = compiled(x, loss_args=(target,))
    loss.backward()
    difference = _difference(eager, [loss.detach(), *_grads(model)])
    assert difference <= 2 * max(torch_difference, _floor(eager)), (difference, torch_difference)
    report = compiled.last_report()
    for stage in ("fwd", "bwd"):
        dumped = _regions(tmp_path / f"{stage}.ctc")
        assert dumped, f"no inductor region in @{stage}"
        assert report.executed_regions(stage) == dumped
        assert not report.fallbacks[stage]


class FlexNet(torch.nn.Module):
    """One attention layer with FlexAttention (causal) between two projections."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = torch.nn.Linear(32, 96)
        self.out = torch.nn.Linear(32, 32)

    def forward(self, x: torch.Tensor, block_mask: Any) -> torch.Tensor:
        from torch.nn.attention.flex_attention import flex_attention

        q, k, v = self.qkv(x).view(1, 64, 3, 2, 16).permute(2, 0, 3, 1, 4)
        attended = flex_attention(q, k, v, block_mask=block_mask)
        return self.out(attended.transpose(1, 2).reshape(1, 64, 32))


def test_flex_attention_falls_back_alone_with_one_warning_per_stage(tmp_path: Path) -> None:
    from torch.nn.attention.flex_attention import create_block_mask

    from ctc.compat import blockmask_pytree, flex_backward_cpu

    flex_backward_cpu.apply()
    blockmask_pytree.apply()
    torch.manual_seed(0)
    model = FlexNet()
    mask = create_block_mask(lambda b, h, q, kv: q >= kv, 1, 1, 64, 64, device="cpu")
    x = torch.randn(1, 64, 32)
    compiled = ctc.compile(model, None, "inductor(regions)", device="cpu", dump_dir=tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled(x, mask).sum().backward()
    fallback_warnings = [
        str(w.message)
        for w in caught
        if issubclass(w.category, CtcWarning) and "could not compile" in str(w.message)
    ]
    assert len(fallback_warnings) == 2  # one for @fwd, one for @bwd, each naming its op
    assert "higher_order.flex_attention " in fallback_warnings[0]
    assert "higher_order.flex_attention_backward" in fallback_warnings[1]
    report = compiled.last_report()
    for stage in ("fwd", "bwd"):
        dumped = _regions(tmp_path / f"{stage}.ctc")
        fallen = {(f.region, 0) for f in report.fallbacks[stage]}
        assert fallen and fallen <= dumped
        # Regions whose only op fell back ran nothing compiled; the others ran compiled.
        executed = report.executed_regions(stage)
        assert executed <= dumped
        assert executed | fallen == dumped
    described = report.describe().splitlines()
    assert described[0].startswith(f"@fwd: {len(report.regions['fwd'])} inductor region(s)")
    assert any("higher_order.flex_attention_backward" in line for line in described)
    eager = FlexNet()
    eager.load_state_dict(model.state_dict())
    assert torch.allclose(compiled(x, mask), eager(x, mask), atol=1e-5)
