"""Real text and a tokenizer with no network: what ctc's trainer feeds torchtitan.

The corpus is the docstrings of Python's standard library (about 4,800 records, 1.6 MB for
Python 3.11), one JSON-lines record ``{"text": ...}`` each; the tokenizer is a byte-level BPE
trained on it with the ``tokenizers`` package, in the folder layout torchtitan 0.3.0's
``HuggingFaceTokenizer`` loads. Both are built once into a cache folder (default
``~/.cache/ctc``; an argument, never an environment variable) and are byte-identical for the
same Python version and vocabulary size. Concurrent builders (every rank starting at once)
build each once, under a lock, and publish it with an atomic rename.

Use (in every rank process, before torchtitan builds its dataloader)::

    from ctc.data import prepare_text_assets, torchtitan_data_settings

    assets = prepare_text_assets(vocab_size=2048, cache_dir=None)  # -> TextAssets
    print(assets.describe())  # the two paths, and "built" or "cached"
    settings = torchtitan_data_settings(assets.corpus_path, assets.tokenizer_path)
    settings.apply(trainer_config)  # a torchtitan Trainer.Config: dataloader, validator's
                                    # dataloader, hf_assets_path (the tokenizer folder)

``vocab_size`` is an upper bound that the model's vocabulary must meet (llama3 and
deepseek_v3 ``debugmodel`` have 2048); ``assets.vocab_size`` is the tokenizer's actual size,
special tokens included. With torchtitan's llama3 debugmodel (sequence 64, batch 2, AdamW at
torchtitan's default lr 8e-4, seed 0) the mean loss of steps 21-30 is 15% below step 1's.

The API (``__all__``):
- ``prepare_text_assets(*, vocab_size, cache_dir=None) -> TextAssets`` (``corpus_path``,
  ``tokenizer_path``, ``vocab_size``, ``corpus_built``, ``tokenizer_built``, ``describe()``);
- ``torchtitan_data_settings(corpus_path, tokenizer_path) -> TorchtitanDataSettings``
  (``dataloader``, ``validator_dataloader``, ``hf_assets_path``, ``apply(trainer_config)``);
  a missing corpus file or tokenizer file is a ``CtcError`` naming the path it looked at;
- ``register_torchtitan_dataset()``: adds ``DATASET_NAME`` (``"ctc_corpus"``) to torchtitan's
  dataset table (idempotent; ``torchtitan_data_settings`` calls it);
- ``load_tokenizer(tokenizer_path)``: torchtitan's ``HuggingFaceTokenizer`` for the folder;
- ``build_corpus(cache_dir=None)`` and ``build_tokenizer(corpus_path, vocab_size,
  cache_dir=None)``: each piece alone, returning ``(path, built)``.

Modules:
- ``assets``: ``TextAssets`` and ``prepare_text_assets`` (torch-free).
- ``corpus``: the standard library docstring corpus, its reader and checks (torch-free).
- ``tokenizer``: training, caching and checking the BPE tokenizer folder (``tokenizers``).
- ``cache``: the cache folder, the build lock and atomic publishing (torch-free).
- ``torchtitan_dataset``: the ``ctc_corpus`` dataset entry and the trainer settings
  (torchtitan, imported inside its functions).

Importing ``ctc.data`` imports neither torch nor torchtitan.
"""

from __future__ import annotations

from ctc.data.assets import TextAssets, prepare_text_assets
from ctc.data.corpus import build_corpus, check_corpus
from ctc.data.tokenizer import build_tokenizer, check_tokenizer_folder
from ctc.data.torchtitan_dataset import (
    DATASET_NAME,
    TorchtitanDataSettings,
    load_tokenizer,
    register_torchtitan_dataset,
    torchtitan_data_settings,
)

__all__ = [
    "DATASET_NAME",
    "TextAssets",
    "TorchtitanDataSettings",
    "build_corpus",
    "build_tokenizer",
    "check_corpus",
    "check_tokenizer_folder",
    "load_tokenizer",
    "prepare_text_assets",
    "register_torchtitan_dataset",
    "torchtitan_data_settings",
]
