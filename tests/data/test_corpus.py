"""The standard library docstring corpus: what it selects, in which order, and that the same
library always gives the same bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ctc.data.corpus import (
    MIN_DOCSTRING_CHARS,
    build_corpus,
    check_corpus,
    corpus_file_name,
    library_sources,
    read_corpus_texts,
    stdlib_folder,
    write_corpus,
)
from ctc.errors import CtcError
from tests.data.conftest import exactly

LONG = "x" * MIN_DOCSTRING_CHARS
MODULE = f'''"""Module {LONG}"""

class A:
    """Class {LONG}"""

    def f(self):
        """Method {LONG}"""

def g():
    """Short."""

async def h():
    """Coroutine {LONG} \u00e9\u2713"""
'''


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _library(root: Path) -> Path:
    _write(root, "zeta.py", MODULE)
    _write(root, "alpha/beta.py", f'"""Beta {LONG}"""\n"""Not a docstring {LONG}"""\n')
    _write(root, "alpha/copy.py", f'"""Beta {LONG}"""\n')  # a duplicate: kept once
    _write(root, "test/test_x.py", f'"""Test {LONG}"""\n')
    _write(root, "alpha/tests/helper.py", f'"""Helper {LONG}"""\n')
    _write(root, "idlelib/editor.py", f'"""Idle {LONG}"""\n')
    _write(root, "site-packages/pkg/mod.py", f'"""Installed {LONG}"""\n')
    _write(root, "broken.py", f'"""Broken {LONG}"""\ndef (:\n')
    return root


def test_sources_skip_tests_idlelib_and_site_packages_in_sorted_order(tmp_path: Path) -> None:
    root = _library(tmp_path)
    names = [path.relative_to(root).as_posix() for path in library_sources(root)]
    assert names == ["alpha/beta.py", "alpha/copy.py", "broken.py", "zeta.py"]


def test_records_are_long_docstrings_in_source_order_without_duplicates(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    assert write_corpus(_library(tmp_path / "lib"), corpus) == 5
    assert read_corpus_texts(corpus) == [
        f"Beta {LONG}",
        f"Module {LONG}",
        f"Class {LONG}",
        f"Method {LONG}",
        f"Coroutine {LONG} \u00e9\u2713",
    ]
    lines = corpus.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"text": f"Beta {LONG}"}


def test_the_size_cap_stops_before_the_record_that_would_pass_it(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    first_line = json.dumps({"text": f"Beta {LONG}"}) + "\n"
    count = write_corpus(_library(tmp_path / "lib"), corpus, max_bytes=len(first_line) + 10)
    assert count == 1
    assert corpus.read_text(encoding="utf-8") == first_line


def _corpus_bytes_in_a_process(root: Path, destination: Path, hash_seed: str) -> bytes:
    code = (
        "import sys\nfrom pathlib import Path\nfrom ctc.data.corpus import write_corpus\n"
        "write_corpus(Path(sys.argv[1]), Path(sys.argv[2]))\n"
    )
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run(
        [sys.executable, "-c", code, str(root), str(destination)],
        check=True,
        env=environment,
        timeout=300,
    )
    return destination.read_bytes()


def test_the_same_library_gives_identical_bytes_across_processes(tmp_path: Path) -> None:
    # A real part of the standard library, read by two interpreters whose string hashes
    # (and so set and dict orders of strings) differ.
    root = stdlib_folder() / "email"
    first = _corpus_bytes_in_a_process(root, tmp_path / "first.jsonl", "1")
    second = _corpus_bytes_in_a_process(root, tmp_path / "second.jsonl", "2")
    assert len(first) > 10_000
    assert first == second


@pytest.mark.slow
def test_the_whole_library_corpus_is_built_once_and_identical_in_another_process(
    tmp_path: Path,
) -> None:
    path, built = build_corpus(tmp_path / "cache")
    assert built and path == tmp_path / "cache" / corpus_file_name()
    assert build_corpus(tmp_path / "cache") == (path, False)
    texts = read_corpus_texts(path)
    assert len(texts) > 1000
    assert all(len(text) >= MIN_DOCSTRING_CHARS for text in texts)
    again = _corpus_bytes_in_a_process(stdlib_folder(), tmp_path / "again.jsonl", "3")
    assert again == path.read_bytes()


def test_a_missing_corpus_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "corpus.jsonl"
    with pytest.raises(CtcError, match=exactly(f"corpus file not found: {missing} (no such file)")):
        check_corpus(missing)
    with pytest.raises(
        CtcError, match=exactly(f"corpus file not found: {tmp_path} (a folder, not a file)")
    ):
        read_corpus_texts(tmp_path)


@pytest.mark.parametrize(
    ("line", "message"),
    [("{not json", "not a JSON record"), ('{"title": "x"}', 'expected a record {"text"')],
)
def test_a_bad_corpus_line_names_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"text": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(CtcError) as caught:
        read_corpus_texts(corpus)
    assert str(caught.value).startswith(f"{corpus}:2: {message}")
