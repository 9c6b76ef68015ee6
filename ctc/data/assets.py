"""The corpus and the tokenizer together: what a training run needs, built once and cached.

Torch-free.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from ctc.data.corpus import build_corpus
from ctc.data.tokenizer import build_tokenizer, tokenizer_vocab_size


@attrs.frozen
class TextAssets:
    """Where the corpus file and the tokenizer folder are, the tokenizer's vocabulary size
    (special tokens included, at most the size asked for), and whether this call built each
    (False: it came from the cache)."""

    corpus_path: Path
    tokenizer_path: Path
    vocab_size: int
    corpus_built: bool
    tokenizer_built: bool

    def describe(self) -> str:
        """Two lines for a person: each path and whether it was built now or cached."""
        corpus_state = "built" if self.corpus_built else "cached"
        tokenizer_state = "built" if self.tokenizer_built else "cached"
        return (
            f"corpus: {self.corpus_path} ({corpus_state})\n"
            f"tokenizer: {self.tokenizer_path} ({tokenizer_state}, "
            f"vocabulary {self.vocab_size})"
        )


def prepare_text_assets(*, vocab_size: int, cache_dir: str | Path | None = None) -> TextAssets:
    """The corpus of this Python's standard library docstrings and a byte-level BPE tokenizer
    of at most ``vocab_size`` tokens trained on it, in ``cache_dir`` (default ``~/.cache/ctc``),
    each built when missing. Safe to call from every rank at once."""
    corpus_path, corpus_built = build_corpus(cache_dir)
    tokenizer_path, tokenizer_built = build_tokenizer(corpus_path, vocab_size, cache_dir)
    return TextAssets(
        corpus_path=corpus_path,
        tokenizer_path=tokenizer_path,
        vocab_size=tokenizer_vocab_size(tokenizer_path),
        corpus_built=corpus_built,
        tokenizer_built=tokenizer_built,
    )
