"""Training-step bench of the plain-torch llama-like model (``ctc.models.llama_plain``; bf16
autocast, SGD) for issue 14: each contender trains the same model from the same weights, one row
printed as soon as it is measured: median step time over ``--steps``, tokens/s, first-step time,
peak memory, and the loss after the last step (the same start gives comparable losses).

Contenders here need no ctc: ``eager``, ``compile`` (``torch.compile``) and ``reduce-overhead``
(``torch.compile(mode="reduce-overhead")``, CUDA graphs). ``CONTENDERS`` maps a name to a
function that turns the model into ``step(tokens, labels) -> loss``; ctc's own entries (through
``ctc.compile``) belong there too.

usage: python bench/llama_gpu.py [--sizes debug,1B] [--contenders eager,compile,...]
                                 [--steps 50] [--device cuda] [--json OUT]
       python bench/llama_gpu.py --sizes tiny --device cpu --steps 3 --contenders eager
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ctc.models.llama_plain import LlamaStep, build_llama, llama_batch, size_named  # noqa: E402

StepFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _eager(model: LlamaStep) -> StepFn:
    return model


def _compiled(model: LlamaStep) -> StepFn:
    compiled: StepFn = torch.compile(model)
    return compiled


def _reduce_overhead(model: LlamaStep) -> StepFn:
    compiled = torch.compile(model, mode="reduce-overhead")

    def step(tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # A new training step: the previous step's graph outputs may be overwritten.
        torch.compiler.cudagraph_mark_step_begin()
        loss: torch.Tensor = compiled(tokens, labels)
        return loss

    return step


CONTENDERS: dict[str, Callable[[LlamaStep], StepFn]] = {
    "eager": _eager,
    "compile": _compiled,
    "reduce-overhead": _reduce_overhead,
}


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(size_name: str, contender: str, steps: int, device: torch.device) -> dict[str, Any]:
    """Trains ``steps`` SGD steps of the size with one contender; its timings and peak memory."""
    size = size_named(size_name)
    torch._dynamo.reset()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    model = build_llama(size, device=device)
    step = CONTENDERS[contender](model)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    tokens, labels = llama_batch(size, device=device)
    seconds: list[float] = []
    loss = torch.zeros(())
    for _ in range(steps):
        _synchronize(device)
        began = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = step(tokens, labels)
        loss.backward()
        optimizer.step()
        _synchronize(device)
        seconds.append(time.perf_counter() - began)
    median_s = statistics.median(seconds[1:] or seconds)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {
        "size": size_name,
        "contender": contender,
        "median_ms": median_s * 1e3,
        "tokens_per_s": size.tokens_per_step / median_s,
        "first_step_s": seconds[0],
        "peak_gib": peak / 2**30 if peak is not None else None,
        "final_loss": float(loss.detach().float()),
        "steps": steps,
    }


def _row(result: dict[str, Any]) -> str:
    peak = f"{result['peak_gib']:.1f}" if result["peak_gib"] is not None else "-"
    return (
        f"| {result['size']} | {result['contender']} | {result['median_ms']:.2f} | "
        f"{result['tokens_per_s']:,.0f} | {result['first_step_s']:.1f} | {peak} | "
        f"{result['final_loss']:.6f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="debug,1B")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    contenders = args.contenders.split(",")
    unknown = [name for name in contenders if name not in CONTENDERS]
    if unknown:
        parser.error(f"unknown contender {unknown[0]} (known: {', '.join(CONTENDERS)})")
    print(f"torch {torch.__version__} on {device}, {args.steps} steps", flush=True)
    print("| size | contender | median ms | tokens/s | first step s | peak GiB | loss |")
    print("|---|---|---|---|---|---|---|", flush=True)
    results = []
    for size_name in args.sizes.split(","):
        for contender in contenders:
            result = measure(size_name, contender, args.steps, device)
            print(_row(result), flush=True)
            results.append(result)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
