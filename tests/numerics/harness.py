"""A numerics harness: a model trained through ``ctc.compile`` next to an eager copy of itself,
with SGD, every step's loss and every gradient compared (bitwise, or within inductor's tolerance
when the pipeline has inductor). ``train_rank`` runs on one rank; the tests start the ranks with
``ctc.launch.run_on_ranks``. (``ctc train`` trains with torchtitan's trainer instead.)
"""

from __future__ import annotations

import time
from typing import Any

import attrs
import torch


@attrs.frozen
class TrainConfig:
    model: str = "llama3"
    flavor: str = "debugmodel"
    mesh: str = "dp_shard=2,tp=2"
    passes: str = ""
    steps: int = 3
    batch: int | None = None
    seq_len: int | None = None
    lr: float = 1e-3
    seed: int = 0
    check: bool = True


@attrs.frozen
class StepResult:
    step: int
    loss: float
    eager_loss: float | None
    seconds: float
    eager_seconds: float | None
    grads_equal: bool | None
    # Whether the comparison is bitwise (False: within inductor's tolerance, see ``close``).
    exact: bool = True
    max_difference: float | None = None


def _build(config: TrainConfig) -> Any:
    from ctc.models.step import build_step

    rank = torch.distributed.get_rank()
    built = build_step(
        config.model,
        config.flavor,
        config.mesh,
        batch=config.batch,
        seq_len=config.seq_len,
        fake=False,
        seed=config.seed,
        input_seed=10 + rank,
    )
    return built.module, built.args, built.kwargs, built.layout


def _local_grads(model: torch.nn.Module) -> list[torch.Tensor]:
    grads = []
    for _, parameter in model.named_parameters():
        grad = parameter.grad
        assert grad is not None
        grads.append(grad.to_local() if hasattr(grad, "to_local") else grad)
    return grads


def train_rank(rank: int, world_size: int, config: TrainConfig) -> dict[str, Any]:
    """One rank's training run; returns its per-step results and the pipeline's IR stats."""
    import ctc
    from ctc.ir.stats import module_stats

    torch.use_deterministic_algorithms(True)
    model, args, kwargs, layout = _build(config)
    eager = _build(config)[0] if config.check else None
    compiled = ctc.compile(model, pipeline=config.passes, mesh=layout, device="cpu")
    # Inductor fuses: its steps are compared within a tolerance, all others bitwise.
    exact = "inductor" not in str(compiled.options.pipeline)
    difference = 0.0

    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    eager_optimizer = torch.optim.SGD(eager.parameters(), lr=config.lr) if eager else None
    results = []
    for step in range(1, config.steps + 1):
        began = time.perf_counter()
        optimizer.zero_grad()
        loss = compiled(*args, **kwargs)
        loss.backward()
        seconds = time.perf_counter() - began
        eager_loss = None
        eager_seconds = None
        grads_equal = None
        if eager is not None and eager_optimizer is not None:
            eager_optimizer.zero_grad()
            began = time.perf_counter()
            reference = eager(*args, **kwargs)
            reference.backward()
            eager_seconds = time.perf_counter() - began
            eager_loss = float(reference.detach().float())
            pairs = [
                (loss.detach(), reference.detach()),
                *zip(_local_grads(model), _local_grads(eager), strict=True),
            ]
            difference = max(float((a.float() - b.float()).abs().max()) for a, b in pairs)
            grads_equal = all((torch.equal if exact else close)(a, b) for a, b in pairs)
            eager_optimizer.step()
        optimizer.step()
        results.append(
            StepResult(
                step,
                float(loss.detach().float()),
                eager_loss,
                seconds,
                eager_seconds,
                grads_equal,
                exact,
                difference if eager is not None else None,
            )
        )
    (step_compiled,) = compiled.compiled.values()
    report = step_compiled.report
    return {
        "steps": [attrs.asdict(r) for r in results],
        "compile_seconds": step_compiled.seconds,
        "stats": module_stats(report.modules["joint"])["functions"][0],
        "captured_ops": len(report.modules["joint"].functions[0].ops),
        "fallbacks": {stage: len(items) for stage, items in report.fallbacks.items()},
    }


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal within what inductor's fusions change in a bf16/f32 training step."""
    return torch.allclose(a.float(), b.float(), rtol=1e-2, atol=1e-3)
