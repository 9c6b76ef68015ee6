"""A byte-level BPE tokenizer trained on a corpus with the ``tokenizers`` package, saved as the
folder torchtitan 0.3.0's ``HuggingFaceTokenizer`` loads: ``tokenizer.json`` and
``tokenizer_config.json`` naming ``bos_token`` and ``eos_token``.

What it guarantees:
- byte-level: every text encodes (no unknown token) and decodes back to itself;
- the vocabulary has at most the asked size, its two special tokens included (ids 0 and 1);
  a model whose vocabulary is that size or larger accepts every id;
- the same corpus and size give a byte-identical ``tokenizer.json``;
- ``build_tokenizer`` builds it once per cache folder, corpus content and size: the folder name
  carries the size and a digest of the corpus (see ``cache`` for concurrent builders).

Torch-free (``tokenizers`` is a Rust extension).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ctc.data.cache import cache_folder, publish
from ctc.data.corpus import check_corpus, read_corpus_texts
from ctc.errors import CtcError

TOKENIZER_FORMAT = 1  # bump when the training recipe changes: a new cache folder
BOS_TOKEN = "<|begin_of_text|>"
EOS_TOKEN = "<|end_of_text|>"
SPECIAL_TOKENS = (BOS_TOKEN, EOS_TOKEN)
BYTE_ALPHABET_SIZE = 256
MIN_VOCAB_SIZE = BYTE_ALPHABET_SIZE + len(SPECIAL_TOKENS)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def check_vocab_size(vocab_size: int) -> int:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise CtcError(f"vocabulary size must be an integer, got {vocab_size!r}")
    if vocab_size < MIN_VOCAB_SIZE:
        raise CtcError(
            f"vocabulary size {vocab_size} is too small: a byte-level BPE tokenizer needs at "
            f"least {MIN_VOCAB_SIZE} ({BYTE_ALPHABET_SIZE} bytes and {len(SPECIAL_TOKENS)} "
            "special tokens)"
        )
    return vocab_size


def corpus_digest(corpus_path: Path) -> str:
    """The SHA-256 of the corpus file's bytes, in hex."""
    return hashlib.sha256(check_corpus(corpus_path).read_bytes()).hexdigest()


def tokenizer_folder_name(corpus_path: Path, vocab_size: int) -> str:
    return f"bpe-v{TOKENIZER_FORMAT}-vocab{vocab_size}-{corpus_digest(corpus_path)[:16]}"


def train_tokenizer(corpus_path: Path, vocab_size: int, destination: Path) -> None:
    """Trains the tokenizer on the corpus and writes its folder at ``destination``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    texts = read_corpus_texts(corpus_path)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=check_vocab_size(vocab_size),
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    destination.mkdir()
    tokenizer.save(str(destination / "tokenizer.json"), pretty=True)
    config = {
        "add_bos_token": False,  # torchtitan's text dataset asks for BOS and EOS itself
        "add_eos_token": False,
        "bos_token": BOS_TOKEN,
        "clean_up_tokenization_spaces": False,
        "eos_token": EOS_TOKEN,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    config_text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    (destination / "tokenizer_config.json").write_text(config_text, encoding="utf-8")


def build_tokenizer(
    corpus_path: str | Path, vocab_size: int, cache_dir: str | Path | None = None
) -> tuple[Path, bool]:
    """The tokenizer folder for this corpus and vocabulary size in the cache folder (default
    ``~/.cache/ctc``), trained when missing; returns its path and whether this call built it."""
    corpus = check_corpus(corpus_path)
    final = cache_folder(cache_dir) / tokenizer_folder_name(corpus, check_vocab_size(vocab_size))
    built = publish(final, lambda temporary: train_tokenizer(corpus, vocab_size, temporary))
    return final, built


def check_tokenizer_folder(path: str | Path) -> Path:
    """``path`` as a tokenizer folder holding both files; a ``CtcError`` naming the path that
    is missing otherwise."""
    folder = Path(path)
    if not folder.is_dir():
        raise CtcError(f"tokenizer folder not found: {folder}")
    for name in TOKENIZER_FILES:
        if not (folder / name).is_file():
            raise CtcError(f"tokenizer file not found: {folder / name}")
    return folder


def tokenizer_vocab_size(path: str | Path) -> int:
    """The vocabulary size of the tokenizer in folder ``path``, special tokens included."""
    from tokenizers import Tokenizer

    tokenizer_json = check_tokenizer_folder(path) / "tokenizer.json"
    return int(Tokenizer.from_file(str(tokenizer_json)).get_vocab_size())
