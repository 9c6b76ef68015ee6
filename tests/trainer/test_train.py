"""`ctc train` as a user runs it: torchtitan's trainer on gloo ranks, every mission row, the
torchrun path, resuming from a checkpoint, and learning on the corpus (slow: real training)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]


def _ctc_train(*args: str, timeout: int = 1800) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "ctc", "train", "--json", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _losses(report: dict[str, Any]) -> list[float]:
    return [step["loss"] for step in report["steps"]]


# MISSION.md rows 1-8: (model, flavor, mesh, passes).
MISSION_ROWS = {
    "1": ("deepseek_v3", "debugmodel", "dp_shard=2,tp=2,ep=2", ""),
    "2": ("deepseek_v3", "debugmodel_flex_attn", "dp_shard=2,tp=2,ep=2", ""),
    "3": ("llama3", "debugmodel", "dp_shard=2,tp=4", ""),
    "4": ("llama3", "debugmodel", "dp_shard=2,tp=4", "autobucketing_reordering"),
    "5": ("llama3", "debugmodel", "dp_shard=2,tp=4", "transformer_block_bucketing"),
    "6": ("llama3", "debugmodel_flex_attn", "dp_shard=2,tp=4", ""),
    "7": (
        "llama3",
        "debugmodel_flex_attn",
        "dp_shard=2,tp=4",
        "autobucketing_reordering,regional_inductor",
    ),
    "8": (
        "llama3",
        "debugmodel_flex_attn",
        "dp_shard=2,tp=4",
        "transformer_block_bucketing,regional_inductor",
    ),
}


@pytest.mark.parametrize("row", sorted(MISSION_ROWS), ids=lambda row: f"row{row}")
def test_mission_row_trains_three_steps(row: str) -> None:
    model, flavor, mesh, passes = MISSION_ROWS[row]
    report = _ctc_train(
        "--model",
        model,
        "--flavor",
        flavor,
        "--mesh",
        mesh,
        "--passes",
        passes,
        "--steps",
        "3",
        "--seq-len",
        "64",
        "--batch",
        "1",
    )
    losses = _losses(report)
    assert len(losses) == 3 and all(0 < loss < 20 for loss in losses)
    assert report["collectives_per_step"] > 0


def test_torchrun_and_ctc_train_give_the_same_losses(tmp_path: Path) -> None:
    settings = ["--mesh", "dp_shard=2", "--steps", "3", "--passes", "transformer_block_bucketing"]
    report = _ctc_train(*settings)
    command = subprocess.run(
        [sys.executable, "-m", "ctc", "train", *settings, "--torchrun"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    assert command[:2] == ["torchrun", "--standalone"]
    torchrun = Path(sys.executable).parent / "torchrun"
    result = subprocess.run(
        [str(torchrun), *command[1:]],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=tmp_path,
        env=os.environ | {"OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    printed = [line for line in result.stdout.splitlines() if line.startswith("step ")]
    losses = [float(line.split("loss")[1].split()[0]) for line in printed]
    assert losses == pytest.approx(_losses(report), abs=5e-5)  # printed to 4 decimals


def test_resuming_after_step_three_gives_the_uninterrupted_losses(tmp_path: Path) -> None:
    settings = ["--mesh", "dp_shard=2", "--steps", "6"]
    whole = _ctc_train(*settings)
    folder = str(tmp_path / "ckpt")
    first = _ctc_train(
        *settings, "--checkpoint", folder, "--checkpoint-interval", "3", "--stop-after", "3"
    )
    second = _ctc_train(*settings, "--checkpoint", folder, "--checkpoint-interval", "3")
    assert _losses(first) == _losses(whole)[:3]
    assert [step["step"] for step in second["steps"]] == [4, 5, 6]
    assert _losses(second) == _losses(whole)[3:]
    _check_loads_into_an_eager_model(Path(folder) / "step-3", tmp_path)


def _check_loads_into_an_eager_model(checkpoint: Path, scratch: Path) -> None:
    """The compiled run's checkpoint loads, every name strict, into torchtitan's model built
    eagerly in this process (no mesh), which then fits the corpus better than the model as the
    trainer initializes it."""
    import torch
    from tokenizers import Tokenizer
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    from ctc.data import prepare_text_assets
    from ctc.models.flavors import graph_trainer_config, resolve_flavor
    from ctc.trainer.registry import TOKENIZER_VOCAB

    dcp_to_torch_save(checkpoint, scratch / "whole.pt")
    saved = torch.load(scratch / "whole.pt", weights_only=False)
    assets = prepare_text_assets(vocab_size=TOKENIZER_VOCAB)
    tokenizer = Tokenizer.from_file(str(assets.tokenizer_path / "tokenizer.json"))
    ids = tokenizer.encode(assets.corpus_path.read_text()[:20000]).ids
    rows = torch.tensor(ids[: 4 * 129]).view(4, 129)

    def corpus_loss(model: torch.nn.Module) -> float:
        with torch.no_grad():
            logits = model(rows[:, :-1])
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten()).item()

    model_config = graph_trainer_config(resolve_flavor("llama3", "debugmodel")).model_spec.model
    torch.manual_seed(0)
    fresh, trained = model_config.build(), model_config.build()
    fresh.init_weights()
    trained.load_state_dict({name: saved[name] for name in trained.state_dict()}, strict=True)
    assert corpus_loss(trained) < corpus_loss(fresh) - 0.1


def test_the_loss_falls_on_the_corpus() -> None:
    report = _ctc_train("--mesh", "dp_shard=1", "--steps", "30", "--batch", "2", "--lr", "3e-3")
    losses = _losses(report)
    assert sum(losses[20:30]) / 10 <= 0.9 * losses[0], losses


def _ctc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctc", *args], capture_output=True, text=True, cwd=cwd, timeout=900
    )


def test_training_from_an_ir_file_that_ctc_opt_bucketed(tmp_path: Path) -> None:
    """The IR is the artifact: captured once, bucketed by ``ctc opt``, trained by ``ctc train
    --ir`` with the losses of ``--passes``; a file for another shape is refused by name."""
    shape = ["--mesh", "dp_shard=2", "--seq-len", "64", "--batch", "1"]
    captured = _ctc("capture", "--model", "llama3", "--flavor", "debugmodel", *shape,
                    "-o", "step.ctc", cwd=tmp_path)  # fmt: skip
    assert captured.returncode == 0, captured.stderr[-2000:]
    opt = _ctc("opt", "step.ctc", "--passes", "bucket(block)", "-o", "bucketed.ctc", cwd=tmp_path)
    assert opt.returncode == 0, opt.stderr[-2000:]
    from_file = _ctc_train(*shape, "--steps", "2", "--ir", str(tmp_path / "bucketed.ctc"))
    from_passes = _ctc_train(*shape, "--steps", "2", "--passes", "transformer_block_bucketing")
    assert _losses(from_file) == _losses(from_passes)
    other = ["--mesh", "dp_shard=2", "--seq-len", "32", "--steps", "1"]
    refused = _ctc("train", *other, "--ir", "bucketed.ctc", cwd=tmp_path)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "bucketed.ctc: argument" in refused.stderr and "captured step's is" in refused.stderr


def test_one_ir_file_is_refused_for_ranks_whose_steps_differ(tmp_path: Path) -> None:
    """Tensor parallelism bakes each rank's vocabulary range into its step: a file captured
    for rank 0 would train the others wrongly, so it is refused, naming the line."""
    shape = ["--mesh", "dp_shard=1,tp=2", "--seq-len", "64", "--batch", "1"]
    captured = _ctc("capture", "--model", "llama3", "--flavor", "debugmodel", *shape,
                    "-o", "step.ctc", cwd=tmp_path)  # fmt: skip
    assert captured.returncode == 0, captured.stderr[-2000:]
    refused = _ctc("train", *shape, "--steps", "1", "--ir", "step.ctc", cwd=tmp_path)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "differs between ranks (rank 1 differs from rank 0: line" in refused.stderr
