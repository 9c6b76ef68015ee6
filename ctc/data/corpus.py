"""A small real English corpus that needs no network: the docstrings of Python's standard
library, one JSON-lines record ``{"text": ...}`` per docstring.

What it guarantees:
- the same standard library (the same Python version) gives a byte-identical file: sources are
  read in sorted path order, docstrings in source order, duplicates dropped after their first
  occurrence, JSON written with sorted keys; nothing depends on hash seeds or the file system's
  listing order;
- only library code: folders named ``test``/``tests``, ``idlelib``, ``site-packages`` and
  ``dist-packages`` are skipped, and so is a source file that does not parse;
- docstrings shorter than ``MIN_DOCSTRING_CHARS`` (one-line summaries) are left out, and the
  file stops before ``MAX_CORPUS_BYTES`` (Python 3.11's library gives about 1.6 MB, so the cap
  is a guard, not a cut);
- ``build_corpus`` builds the file once per cache folder and Python version (see ``cache``).

Torch-free.
"""

from __future__ import annotations

import ast
import json
import platform
import sysconfig
from collections.abc import Iterator
from pathlib import Path

from ctc.data.cache import cache_folder, publish
from ctc.errors import CtcError

CORPUS_FORMAT = 1  # bump when the selection or the record format changes: a new cache file
MIN_DOCSTRING_CHARS = 64
MAX_CORPUS_BYTES = 4 * 2**20
SKIPPED_FOLDERS = frozenset({"test", "tests", "idlelib", "site-packages", "dist-packages"})
_DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def stdlib_folder() -> Path:
    """The running interpreter's standard library folder."""
    return Path(sysconfig.get_paths()["stdlib"])


def corpus_file_name() -> str:
    """The cache file name: one per Python version and corpus format."""
    return f"stdlib-docstrings-py{platform.python_version()}-v{CORPUS_FORMAT}.jsonl"


def library_sources(root: Path) -> list[Path]:
    """The ``.py`` files under ``root`` outside the skipped folders, in sorted path order."""
    sources = []
    for path in root.rglob("*.py"):
        relative = path.relative_to(root)
        if SKIPPED_FOLDERS.isdisjoint(relative.parts[:-1]):
            sources.append(relative)
    return [root / relative for relative in sorted(sources, key=lambda p: p.as_posix())]


def docstrings(tree: ast.Module) -> Iterator[str]:
    """The cleaned docstrings of a module, its classes and functions, in source order."""
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, _DOCUMENTED):
            text = ast.get_docstring(node, clean=True)
            if text:
                yield text
        # Reversed onto a stack: children come off in source order, depth first.
        pending.extend(reversed(list(ast.iter_child_nodes(node))))


def _source_docstrings(path: Path) -> Iterator[str]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, UnicodeDecodeError):
        return  # a template or data file named .py; not library code
    yield from docstrings(tree)


def corpus_lines(root: Path, max_bytes: int = MAX_CORPUS_BYTES) -> Iterator[str]:
    """The corpus's JSON lines (with their newline) from the library under ``root``."""
    seen: set[str] = set()
    size = 0
    for path in library_sources(root):
        for text in _source_docstrings(path):
            if len(text) < MIN_DOCSTRING_CHARS or text in seen:
                continue
            seen.add(text)
            line = json.dumps({"text": text}, ensure_ascii=False, sort_keys=True) + "\n"
            try:
                encoded_size = len(line.encode("utf-8"))
            except UnicodeEncodeError:
                continue  # a lone surrogate written as an escape in the source
            if size + encoded_size > max_bytes:
                return
            size += encoded_size
            yield line


def write_corpus(root: Path, destination: Path, max_bytes: int = MAX_CORPUS_BYTES) -> int:
    """Writes the corpus of the library under ``root`` to ``destination``; returns the record
    count."""
    count = 0
    with destination.open("w", encoding="utf-8", newline="\n") as stream:
        for line in corpus_lines(root, max_bytes):
            stream.write(line)
            count += 1
    return count


def build_corpus(cache_dir: str | Path | None = None) -> tuple[Path, bool]:
    """The corpus file of this interpreter's standard library in the cache folder (default
    ``~/.cache/ctc``), built when missing; returns its path and whether this call built it."""
    final = cache_folder(cache_dir) / corpus_file_name()
    root = stdlib_folder()
    built = publish(final, lambda temporary: _write_nonempty(root, temporary))
    return final, built


def _write_nonempty(root: Path, destination: Path) -> None:
    if write_corpus(root, destination) == 0:
        raise CtcError(f"no docstrings found under {root}: is the standard library installed?")


def check_corpus(path: str | Path) -> Path:
    """``path`` as a corpus file that exists; a ``CtcError`` naming the path otherwise."""
    corpus = Path(path)
    if not corpus.is_file():
        what = "a folder, not a file" if corpus.is_dir() else "no such file"
        raise CtcError(f"corpus file not found: {corpus} ({what})")
    return corpus


def read_corpus_texts(path: str | Path) -> list[str]:
    """The texts of a corpus file, in order; a ``CtcError`` naming the file and line for a
    missing file or a line that is not a ``{"text": ...}`` record."""
    corpus = check_corpus(path)
    try:
        lines = corpus.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as error:
        raise CtcError(
            f"{corpus} is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    texts = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise CtcError(f"{corpus}:{number}: not a JSON record ({error.msg})") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CtcError(f'{corpus}:{number}: expected a record {{"text": "..."}}')
        texts.append(record["text"])
    return texts
