"""ctc's corpus as a torchtitan 0.3.0 dataset, and the trainer settings that use it.

torchtitan's ``HuggingFaceTextDataLoader`` finds datasets by name in the module-level table
``torchtitan.hf_datasets.text_datasets.DATASETS``. ``register_torchtitan_dataset`` adds
``ctc_corpus`` there (idempotent; each process that builds a dataloader must call it, since the
table lives in the process), after which
``HuggingFaceTextDataLoader.Config(dataset="ctc_corpus", dataset_path=<corpus file>)`` works.

The loader reads the JSON-lines file into an in-memory map-style ``datasets.Dataset``: no
network, nothing written to the Hugging Face cache, and torchtitan's checkpointing resumes it by
sample index. A missing corpus file is a ``CtcError`` naming the path.

torchtitan (and so torch) is imported inside the functions, not at module import.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ctc.data.cache import DEFAULT_CACHE_DIR
from ctc.data.corpus import check_corpus, corpus_file_name, read_corpus_texts
from ctc.data.tokenizer import check_tokenizer_folder

DATASET_NAME = "ctc_corpus"


def load_corpus_dataset(path: str) -> Any:
    """The corpus file at ``path`` as a ``datasets.Dataset`` with one column, ``text``."""
    from datasets import Dataset  # type: ignore[import-untyped]

    return Dataset.from_dict({"text": read_corpus_texts(path)})


def corpus_sample_text(sample: Mapping[str, Any]) -> str:
    return str(sample["text"])


def register_torchtitan_dataset() -> None:
    """Adds ``ctc_corpus`` to torchtitan's dataset table; calling it again changes nothing.
    Without a ``dataset_path`` the dataloader reads the corpus of the default cache folder."""
    from torchtitan.hf_datasets import DatasetConfig
    from torchtitan.hf_datasets.text_datasets import DATASETS

    existing = DATASETS.get(DATASET_NAME)
    if existing is not None and existing.loader is load_corpus_dataset:
        return
    DATASETS[DATASET_NAME] = DatasetConfig(
        path=str(DEFAULT_CACHE_DIR.expanduser() / corpus_file_name()),
        loader=load_corpus_dataset,
        sample_processor=corpus_sample_text,
    )


@attrs.frozen
class TorchtitanDataSettings:
    """The pieces of a torchtitan ``Trainer.Config`` that make it train on ctc's corpus.

    ``dataloader`` and ``validator_dataloader`` are ``HuggingFaceTextDataLoader.Config``
    (the validator's is finite; the validator itself stays as configured, usually off);
    ``hf_assets_path`` is the tokenizer folder."""

    dataloader: Any
    validator_dataloader: Any
    hf_assets_path: str

    def apply(self, trainer_config: Any) -> None:
        """Sets these pieces on a ``torchtitan.trainer.Trainer.Config``, in place."""
        trainer_config.dataloader = self.dataloader
        trainer_config.validator.dataloader = self.validator_dataloader
        trainer_config.hf_assets_path = self.hf_assets_path


def torchtitan_data_settings(
    corpus_path: str | Path, tokenizer_path: str | Path
) -> TorchtitanDataSettings:
    """The trainer settings for a corpus file and a tokenizer folder (both checked to exist: a
    ``CtcError`` names the missing path); registers the dataset in this process."""
    corpus = check_corpus(corpus_path).resolve()
    tokenizer = check_tokenizer_folder(tokenizer_path).resolve()
    register_torchtitan_dataset()
    from torchtitan.hf_datasets.text_datasets import HuggingFaceTextDataLoader

    def dataloader(infinite: bool) -> Any:
        return HuggingFaceTextDataLoader.Config(
            dataset=DATASET_NAME, dataset_path=str(corpus), infinite=infinite
        )

    return TorchtitanDataSettings(
        dataloader=dataloader(infinite=True),
        validator_dataloader=dataloader(infinite=False),
        hf_assets_path=str(tokenizer),
    )


def load_tokenizer(tokenizer_path: str | Path) -> Any:
    """torchtitan's ``HuggingFaceTokenizer`` for a tokenizer folder (checked to exist)."""
    from torchtitan.components.tokenizer import HuggingFaceTokenizer

    folder = check_tokenizer_folder(tokenizer_path)
    return HuggingFaceTokenizer(tokenizer_path=str(folder))
