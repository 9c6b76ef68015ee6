"""`ctc train` as a user runs it: real gloo processes, a pipeline, every step checked against
eager bitwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _ctc(*args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctc.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_tiny_model_trains_bitwise_equal_to_eager() -> None:
    result = _ctc("train", "--model", "tiny", "--mesh", "dp_shard=1,tp=1", "--steps", "2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["bitwise_equal"] is True
    losses = [step["loss"] for step in report["steps"]]
    assert len(losses) == 2 and losses[1] < losses[0]


def test_bad_pipeline_is_refused_before_any_process_starts() -> None:
    result = _ctc(
        "train", "--model", "tiny", "--mesh", "dp_shard=1,tp=1", "--passes", "bucket(blok)"
    )
    assert result.returncode == 1
    assert "option 'mode' of pass 'bucket'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_llama3_debugmodel_with_block_bucketing_on_four_ranks() -> None:
    result = _ctc(
        "train",
        "--model",
        "llama3",
        "--mesh",
        "dp_shard=2,tp=2",
        "--passes",
        "transformer_block_bucketing",
        "--seq-len",
        "64",
        "--batch",
        "1",
        "--steps",
        "2",
        "--json",
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["bitwise_equal"] is True
    assert report["stats"]["ops_by_name"]["coll.all_gather"] < 40


@pytest.mark.slow
def test_llama3_flex_attention_on_four_ranks() -> None:
    result = _ctc(
        "train",
        "--model",
        "llama3",
        "--flavor",
        "debugmodel_flex_attn",
        "--mesh",
        "dp_shard=2,tp=2",
        "--seq-len",
        "64",
        "--batch",
        "1",
        "--steps",
        "2",
        "--json",
        timeout=1500,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["bitwise_equal"] is True
    assert report["stats"]["ops_by_name"]["higher_order.flex_attention"] >= 1


@pytest.mark.slow
def test_deepseek_v3_expert_parallel_on_four_ranks() -> None:
    result = _ctc(
        "train",
        "--model",
        "deepseek_v3",
        "--mesh",
        "dp_shard=2,tp=2,ep=2",
        "--seq-len",
        "32",
        "--batch",
        "1",
        "--steps",
        "2",
        "--json",
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["bitwise_equal"] is True
    assert report["stats"]["ops_by_name"]["coll.all_to_all"] > 0
