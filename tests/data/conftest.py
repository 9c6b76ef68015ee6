"""Fixtures of tests/data: a small real corpus (the ``email`` package's docstrings, built in a
second rather than the whole library's several) and a tokenizer trained on it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ctc.data.corpus import stdlib_folder, write_corpus
from ctc.data.tokenizer import build_tokenizer

SMALL_VOCAB_SIZE = 512


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("corpus") / "email-docstrings.jsonl"
    write_corpus(stdlib_folder() / "email", corpus)
    return corpus


@pytest.fixture(scope="session")
def small_tokenizer(small_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder, _ = build_tokenizer(small_corpus, SMALL_VOCAB_SIZE, tmp_path_factory.mktemp("cache"))
    return folder


def exactly(message: str) -> str:
    """A ``pytest.raises(match=...)`` pattern that matches ``message`` and nothing more."""
    return f"^{re.escape(message)}$"
