"""ctc train's settings as torchtitan's command line, and checkpoint folders (torch-free)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctc.errors import CtcError
from ctc.trainer.args import TrainSettings, torchtitan_args, torchtitan_command
from ctc.trainer.manifest import MANIFEST, check_checkpoint_folder, write_manifest


def test_settings_become_torchtitans_arguments() -> None:
    settings = TrainSettings(
        model="llama3",
        flavor="debugmodel_flex_attn",
        mesh="dp_shard=2,tp=4",
        passes="transformer_block_bucketing,regional_inductor",
        steps=8,
        check=True,
        checkpoint="/tmp/ckpt",
        stop_after=3,
    )
    args = torchtitan_args(settings)
    pairs = dict(zip(args[::2], args[1::2], strict=False))
    assert pairs["--module"] == "ctc.llama3"
    assert pairs["--config"] == "ctc_llama3_debugmodel_flex_attn"
    assert pairs["--parallelism.data_parallel_shard_degree"] == "2"
    assert pairs["--parallelism.tensor_parallel_degree"] == "4"
    assert pairs["--compile.passes"] == "transformer_block_bucketing,regional_inductor"
    assert "--ctc.check" in args and "--checkpoint.enable" in args
    assert args[args.index("--checkpoint.interval") + 1] == "8"
    command = torchtitan_command(settings)
    assert command.startswith("torchrun --standalone --nproc_per_node 8 -m torchtitan.train ")


def test_a_checkpoint_folder_of_another_run_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    mine = TrainSettings(mesh="dp_shard=2", checkpoint=str(folder))
    check_checkpoint_folder(mine)  # a new folder is fine
    write_manifest(mine)
    assert json.loads((folder / MANIFEST).read_text())["mesh"] == "dp_shard=2"
    check_checkpoint_folder(mine)
    other = TrainSettings(model="deepseek_v3", mesh="dp_shard=2", checkpoint=str(folder))
    with pytest.raises(CtcError, match="holds a run of llama3 debugmodel on dp_shard=2"):
        check_checkpoint_folder(other)


def test_a_folder_of_torchtitan_checkpoints_without_a_manifest_is_refused(tmp_path: Path) -> None:
    (tmp_path / "step-3").mkdir()
    with pytest.raises(CtcError, match="ctc train did not write them"):
        check_checkpoint_folder(TrainSettings(checkpoint=str(tmp_path)))
    target = tmp_path / "file"
    target.write_text("")
    with pytest.raises(CtcError, match="it is a file, not a folder"):
        check_checkpoint_folder(TrainSettings(checkpoint=str(target)))


def test_the_json_report_names_the_settings_and_world_size() -> None:
    from ctc.cli.train import report_json

    settings = TrainSettings(mesh="dp_shard=2,tp=2", passes="transformer_block_bucketing")
    summary = {"steps": [{"step": 1, "loss": 8.1}], "collectives_per_step": 42}
    report = json.loads(report_json(settings, summary))
    assert report["settings"]["passes"] == "transformer_block_bucketing"
    assert report["world_size"] == 4
    assert report["steps"] == [{"step": 1, "loss": 8.1}]
