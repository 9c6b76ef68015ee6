"""``--ctc.check``: each compiled step compared with the eager model on the same weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ctc.errors import CtcError

# What inductor's fusions may change in a float32/bfloat16 training step.
RELATIVE_TOLERANCE = 1e-2
ABSOLUTE_TOLERANCE = 1e-3


def _local(tensor: torch.Tensor) -> torch.Tensor:
    local = tensor.to_local() if hasattr(tensor, "to_local") else tensor
    return local.detach().float()


def compare_step(
    model: torch.nn.Module,
    twin: torch.nn.Module,
    loss_fn: Callable[..., torch.Tensor],
    inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    extra: dict[str, Any],
    loss: torch.Tensor,
    exact: bool,
    step: int,
) -> float:
    """Runs the eager ``twin`` (given ``model``'s weights) on the step's inputs and compares its
    loss and gradients with the compiled step's (already in ``model``'s ``.grad``): bitwise when
    ``exact``, else within the tolerances above. Returns the largest absolute difference;
    raises a ``CtcError`` naming the step and the first differing tensor otherwise."""
    tokens, labels, valid_tokens = inputs
    with torch.no_grad():
        for target, source in zip(twin.parameters(), model.parameters(), strict=True):
            target.copy_(source)
        for buffer, original in zip(twin.buffers(), model.buffers(), strict=True):
            buffer.copy_(original)
    twin.zero_grad(set_to_none=True)
    reference = loss_fn(twin(tokens, **extra), labels, valid_tokens)
    reference.backward()
    pairs: list[tuple[str, torch.Tensor, torch.Tensor]] = [("loss", loss, reference)]
    for (name, mine), (_, theirs) in zip(
        model.named_parameters(), twin.named_parameters(), strict=True
    ):
        if mine.grad is not None and theirs.grad is not None:
            pairs.append((f"gradient of {name}", mine.grad, theirs.grad))
    largest = 0.0
    for what, compiled, eager in pairs:
        a, b = _local(compiled), _local(eager)
        largest = max(largest, float((a - b).abs().max()) if a.numel() else 0.0)
        same = (
            torch.equal(a, b)
            if exact
            else torch.allclose(a, b, rtol=RELATIVE_TOLERANCE, atol=ABSOLUTE_TOLERANCE)
        )
        if not same:
            rule = (
                "bitwise"
                if exact
                else f"within rtol {RELATIVE_TOLERANCE}, atol {ABSOLUTE_TOLERANCE}"
            )
            raise CtcError(
                f"step {step}: the compiled {what} differs from eager (not {rule}; largest "
                f"difference so far {largest:.3e})"
            )
    return largest
