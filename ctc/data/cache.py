"""The cache folder where ctc keeps what it builds once (the corpus, the tokenizer).

What publishing guarantees:
- an artifact (a file or a folder) appears at its final path complete or not at all: it is
  built under a temporary name in the same folder and renamed into place, so a builder that
  dies halfway leaves nothing a later reader could mistake for a finished artifact;
- concurrent builders (every rank of a job starting at once) build it once: the first takes an
  exclusive lock next to the artifact, the others wait on that lock and then find the artifact
  there. The lock is ``flock``, which the kernel releases when its holder dies.

Torch-free.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ctc.errors import CtcError
from ctc.files import make_directory

DEFAULT_CACHE_DIR = Path("~/.cache/ctc")


def cache_folder(cache_dir: str | Path | None) -> Path:
    """The cache folder to use, created when missing: ``cache_dir``, or ``~/.cache/ctc``."""
    folder = Path(cache_dir) if cache_dir is not None else DEFAULT_CACHE_DIR
    return make_directory(folder.expanduser())


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Holds an exclusive ``flock`` on ``lock_path`` (created when missing) for the block."""
    try:
        handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as error:
        raise CtcError(f"cannot create lock file {lock_path}: {error.strerror}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def publish(final: Path, build: Callable[[Path], None]) -> bool:
    """Makes ``final`` exist: when it does not, calls ``build(temporary)`` to write the artifact
    (a file or a folder) at ``temporary``, in ``final``'s folder, and renames it to ``final``.
    Returns whether this call built it (False: it was there, or another builder made it while
    this one waited for the lock)."""
    if final.exists():
        return False
    with exclusive_lock(final.with_name(final.name + ".lock")):
        if final.exists():
            return False
        try:
            temporary = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
        except OSError as error:
            raise CtcError(f"cannot write in {final.parent}: {error.strerror}") from None
        try:
            # build() writes a file or a folder at this path; the placeholder folder goes first.
            temporary.rmdir()
            build(temporary)
            os.rename(temporary, final)
        except OSError as error:
            raise CtcError(f"cannot build {final}: {error.strerror or error}") from None
        finally:
            _remove(temporary)
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
