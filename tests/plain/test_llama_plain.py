"""The plain-torch llama-like step of the GPU bench (ctc.models.llama_plain) at its tiny size:
the bench sizes have the shapes issue 14 names, the step trains, and it goes through capture ->
IR text -> parse -> lower -> compile_joint bitwise equal to eager, under bf16 autocast and
without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ctc.errors import CtcError
from ctc.models.llama_plain import (
    SIZES,
    build_llama,
    llama_batch,
    parameter_count,
    size_named,
)
from tests.plain.steps import compile_through_text, run_compiled

ROOT = Path(__file__).resolve().parents[2]


def test_bench_sizes_are_the_ones_issue_14_names() -> None:
    debug, one_b = SIZES["debug"], SIZES["1B"]
    assert (debug.dim, debug.layers, debug.vocab, debug.batch, debug.seq_len) == (
        256,
        6,
        2048,
        8,
        2048,
    )
    assert (one_b.dim, one_b.layers, one_b.vocab, one_b.batch, one_b.seq_len) == (
        2048,
        16,
        128256,
        4,
        2048,
    )
    # llama 3.2 1B: 32 query heads over 8 kv heads, feed-forward width 8192, 1.50 B parameters.
    assert (one_b.heads, one_b.kv_heads, one_b.ffn_hidden) == (32, 8, 8192)
    assert 1.49e9 < parameter_count(one_b) < 1.51e9


def test_parameter_count_matches_the_built_model() -> None:
    size = SIZES["tiny"]
    model = build_llama(size)
    assert sum(p.numel() for p in model.parameters()) == parameter_count(size)


def test_unknown_size_names_the_known_ones() -> None:
    with pytest.raises(CtcError, match="sizes: tiny, debug, 1B"):
        size_named("7B")


def test_sgd_steps_lower_the_loss() -> None:
    size = SIZES["tiny"]
    model = build_llama(size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    tokens, labels = llama_batch(size)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = model(tokens, labels)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[2] < losses[0]


@pytest.mark.parametrize("autocast", [True, False], ids=["bf16-autocast", "float32"])
def test_step_through_the_ir_matches_eager_bitwise(autocast: bool) -> None:
    torch.use_deterministic_algorithms(True)
    size = SIZES["tiny"]
    tokens, labels = llama_batch(size)
    eager = build_llama(size, autocast=autocast)
    eager_loss = eager(tokens, labels)
    eager_loss.backward()

    model = build_llama(size, autocast=autocast)
    step, text = compile_through_text(model, (tokens, labels), None)
    loss = run_compiled(step, model, (tokens, labels))
    loss.backward()

    assert torch.equal(loss, eager_loss)
    for (name, got), want in zip(model.named_parameters(), eager.parameters(), strict=True):
        assert got.grad is not None and torch.equal(got.grad, want.grad), name
    assert ("#dtype<bf16>" in text) == autocast
    assert "aten._scaled_dot_product_flash_attention_for_cpu.default" in text


@pytest.mark.slow
def test_bench_runs_eager_at_the_tiny_size_on_the_cpu() -> None:
    bench = str(ROOT / "bench" / "llama_gpu.py")
    arguments = ["--sizes", "tiny", "--device", "cpu", "--steps", "2", "--contenders", "eager"]
    completed = subprocess.run(
        [sys.executable, bench, *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = [line for line in completed.stdout.splitlines() if line.startswith("| tiny |")]
    assert len(rows) == 1 and rows[0].startswith("| tiny | eager |")
