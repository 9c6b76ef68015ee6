"""ctc's corpus through torchtitan 0.3.0's text dataloader, on one rank with no process group."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc.data import (
    DATASET_NAME,
    load_tokenizer,
    register_torchtitan_dataset,
    torchtitan_data_settings,
)
from ctc.data.corpus import read_corpus_texts
from ctc.errors import CtcError
from tests.data.conftest import exactly

SEQUENCE, BATCH = 64, 2


def test_registering_twice_keeps_one_entry() -> None:
    from torchtitan.hf_datasets.text_datasets import DATASETS

    register_torchtitan_dataset()
    entry = DATASETS[DATASET_NAME]
    register_torchtitan_dataset()
    assert DATASETS[DATASET_NAME] is entry
    assert "c4" in DATASETS


def test_the_dataloader_yields_batches_of_the_corpus(
    small_corpus: Path, small_tokenizer: Path
) -> None:
    settings = torchtitan_data_settings(small_corpus, small_tokenizer)
    tokenizer = load_tokenizer(settings.hf_assets_path)
    dataloader = settings.dataloader.build(
        dp_world_size=1, dp_rank=0, tokenizer=tokenizer, seq_len=SEQUENCE, local_batch_size=BATCH
    )
    batches = iter(dataloader)
    inputs, labels = next(batches)
    assert inputs["input"].shape == labels.shape == (BATCH, SEQUENCE)
    assert inputs["positions"].shape == (BATCH, SEQUENCE)
    # Documents are packed in corpus order, each between BOS and EOS (decoding drops those).
    assert inputs["input"][0, 0].item() == tokenizer.bos_id
    decoded = tokenizer.decode(inputs["input"].flatten().tolist())
    assert len(decoded) > BATCH * SEQUENCE
    assert "".join(read_corpus_texts(small_corpus)).startswith(decoded)
    # Each label is the next token of its document; a document's last label is EOS, where the
    # next input starts another document with BOS.
    next_inputs = [
        tokenizer.bos_id if t == tokenizer.eos_id else t for t in labels[0, :-1].tolist()
    ]
    assert inputs["input"][0, 1:].tolist() == next_inputs
    assert tokenizer.eos_id in labels[0].tolist()
    following, _ = next(batches)
    assert following["input"].shape == (BATCH, SEQUENCE)


def test_the_settings_apply_to_a_torchtitan_trainer_config(
    small_corpus: Path, small_tokenizer: Path
) -> None:
    from torchtitan.models.llama3.config_registry import llama3_debugmodel

    config = llama3_debugmodel()
    torchtitan_data_settings(small_corpus, small_tokenizer).apply(config)
    assert config.hf_assets_path == str(small_tokenizer.resolve())
    assert (config.dataloader.dataset, config.dataloader.dataset_path) == (
        DATASET_NAME,
        str(small_corpus.resolve()),
    )
    assert config.dataloader.infinite
    assert config.validator.dataloader.dataset == DATASET_NAME
    assert not config.validator.dataloader.infinite


def test_missing_files_name_the_path(
    small_corpus: Path, small_tokenizer: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "corpus.jsonl"
    with pytest.raises(CtcError, match=exactly(f"corpus file not found: {missing} (no such file)")):
        torchtitan_data_settings(missing, small_tokenizer)
    with pytest.raises(CtcError, match=exactly(f"tokenizer folder not found: {tmp_path / 'tok'}")):
        torchtitan_data_settings(small_corpus, tmp_path / "tok")


def test_a_dataloader_configured_by_hand_on_a_missing_corpus_names_it(
    small_tokenizer: Path, tmp_path: Path
) -> None:
    from torchtitan.hf_datasets.text_datasets import HuggingFaceTextDataLoader

    register_torchtitan_dataset()
    missing = tmp_path / "gone.jsonl"
    config = HuggingFaceTextDataLoader.Config(dataset=DATASET_NAME, dataset_path=str(missing))
    with pytest.raises(CtcError, match=exactly(f"corpus file not found: {missing} (no such file)")):
        config.build(
            dp_world_size=1,
            dp_rank=0,
            tokenizer=load_tokenizer(small_tokenizer),
            seq_len=SEQUENCE,
            local_batch_size=BATCH,
        )
