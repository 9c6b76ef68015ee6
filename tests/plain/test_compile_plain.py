"""Plain modules through ``ctc.compile`` (the path the GPU machine runs: torch 2.11, no
torchtitan; ``make test-torch211`` runs this file there too): a model's own buffers are inputs of
the captured step, not constants; a tensor constant survives the partitioned stages; the
llama-like step of the GPU bench trains through ``inductor(all)``."""

from __future__ import annotations

import pytest
import torch

import ctc
from ctc.models.llama_plain import SIZES, build_llama, llama_batch


class _BufferAndConstant(torch.nn.Module):
    """A direct buffer (not in a child module) and a tensor constant of unequal values."""

    scale: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.linspace(-1.0, 1.0, 4))
        self.register_buffer("scale", torch.arange(1.0, 5.0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w * self.scale * torch.tensor([0.5, 1.5, 2.5, 3.5])).sum()


def test_direct_buffers_are_step_inputs_and_constants_survive_partitioning() -> None:
    eager, model = _BufferAndConstant(), _BufferAndConstant()
    compiled = ctc.compile(model)
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    loss = compiled(x)
    loss.backward()
    eager_loss = eager(x)
    eager_loss.backward()
    assert torch.equal(loss, eager_loss)
    assert model.w.grad is not None and torch.equal(model.w.grad, eager.w.grad)
    joint = str(compiled.last_report().modules["joint"])
    assert 'buffer = "scale"' in joint
    assert joint.count("python.torch.tensor(") == 1  # the constant, not the buffer
    assert "python.torch.tensor(" in str(compiled.last_report().modules["fwd"])


@pytest.mark.slow
def test_llama_step_trains_through_inductor_all_close_to_eager() -> None:
    size = SIZES["tiny"]
    model, eager = build_llama(size), build_llama(size)
    compiled = ctc.compile(model, pipeline="inductor(all)", device="cpu")
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (model, eager)]
    for step in range(2):
        tokens, labels = llama_batch(size, seed=1 + step)
        losses = []
        for run, optimizer in zip((compiled, eager), optimizers, strict=True):
            optimizer.zero_grad()
            loss = run(tokens, labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        # bf16 autocast: inductor fuses the casts, eager rounds after every op.
        torch.testing.assert_close(losses[0], losses[1], rtol=2e-2, atol=2e-2)
    assert compiled.last_report().regions["fwd"], "inductor compiled nothing"
    assert 'buffer = "rope_cos"' in str(compiled.last_report().modules["joint"])
