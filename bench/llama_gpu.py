"""Training-step bench of the plain-torch llama-like model (``ctc.models.llama_plain``; bf16
autocast, SGD) for issue 14: each contender trains the same model from the same weights, one row
printed as soon as it is measured: median step time over ``--steps`` (the first step left out),
tokens/s, first-step time (compiling included), peak memory allocated and reserved, and the loss
after the last step (the same start gives comparable losses).

Contenders (``CONTENDERS``: a name -> a function that turns the model into
``step(tokens, labels) -> loss``): ``eager``; ``compile`` (``torch.compile``);
``reduce-overhead`` (``torch.compile(mode="reduce-overhead")``, CUDA graphs); ``ctc``
(``ctc.compile`` with ``inductor(all)``); ``ctc-cudagraph`` (``ctc.compile`` with
``inductor(all),cudagraph``). A contender that fails prints its error in its row and the others
still run. ``bench/gpu_session.py`` runs each in a process of its own.

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

import attrs
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


def _ctc(pipeline: str) -> Callable[[LlamaStep], StepFn]:
    def build(model: LlamaStep) -> StepFn:
        import ctc

        compiled = ctc.compile(model, pipeline=pipeline)

        def step(tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            loss: torch.Tensor = compiled(tokens, labels)
            return loss

        step.compiled = compiled  # type: ignore[attr-defined]  # for graph counts and release
        return step

    return build


CONTENDERS: dict[str, Callable[[LlamaStep], StepFn]] = {
    "eager": _eager,
    "compile": _compiled,
    "reduce-overhead": _reduce_overhead,
    "ctc": _ctc("inductor(all)"),
    "ctc-cudagraph": _ctc("inductor(all),cudagraph"),
}

# What each contender is, for tables.
DESCRIPTIONS = {
    "eager": "eager",
    "compile": "torch.compile()",
    "reduce-overhead": 'torch.compile(mode="reduce-overhead")',
    "ctc": 'ctc.compile("inductor(all)")',
    "ctc-cudagraph": 'ctc.compile("inductor(all),cudagraph")',
}


def _graph_counts(step: Any) -> dict[str, dict[str, int]] | None:
    """A ctc contender's CUDA graph counts per stage (None without graphs), then the graphs
    released."""
    compiled = getattr(step, "compiled", None)
    if compiled is None or not compiled.compiled:
        return None
    graphs = compiled.last_report().cuda_graphs
    counts = None
    if graphs is not None:
        counts = {stage: attrs.asdict(c) for stage, c in graphs.counts().items()}
    compiled.release_cuda_graphs()
    return counts


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
    cuda = device.type == "cuda"
    peak = torch.cuda.max_memory_allocated(device) if cuda else None
    reserved = torch.cuda.max_memory_reserved(device) if cuda else None
    return {
        "size": size_name,
        "contender": contender,
        "description": DESCRIPTIONS[contender],
        "median_ms": median_s * 1e3,
        "tokens_per_s": size.tokens_per_step / median_s,
        "first_step_s": seconds[0],
        "peak_gib": peak / 2**30 if peak is not None else None,
        "peak_reserved_gib": reserved / 2**30 if reserved is not None else None,
        "final_loss": float(loss.detach().float()),
        "steps": steps,
        "graph_counts": _graph_counts(step),
    }


def failure(size_name: str, contender: str, error: BaseException) -> dict[str, Any]:
    """The row of a contender that failed: its error's type and first line."""
    lines = str(error).strip().splitlines() or [""]
    return {
        "size": size_name,
        "contender": contender,
        "description": DESCRIPTIONS[contender],
        "error": f"{type(error).__name__}: {lines[0][:300]}",
    }


HEADER = (
    "| size | contender | median ms | tokens/s | first step s | peak GiB | reserved GiB | loss |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|"
)


def row(result: dict[str, Any]) -> str:
    """One table row; a failed contender's row holds its error."""
    name = f"| {result['size']} | {result['description']} |"
    if "error" in result:
        return f"{name} failed: {result['error']} | | | | | |"

    def gib(key: str) -> str:
        return f"{result[key]:.1f}" if result.get(key) is not None else "-"

    return (
        f"{name} {result['median_ms']:.2f} | {result['tokens_per_s']:,.0f} | "
        f"{result['first_step_s']:.1f} | {gib('peak_gib')} | {gib('peak_reserved_gib')} | "
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
    print(HEADER, flush=True)
    results = []
    for size_name in args.sizes.split(","):
        for contender in contenders:
            try:
                result = measure(size_name, contender, args.steps, device)
            except Exception as error:  # a failed contender is a row; the others still run
                result = failure(size_name, contender, error)
            print(row(result), flush=True)
            results.append(result)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
