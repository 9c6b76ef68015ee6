"""Reading inputs and writing outputs for the command line, never leaving half-written files."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from ctc.errors import CtcError


def read_text(path: str) -> tuple[str, str]:
    """The text of ``path`` (``-`` is stdin) and the name to use in messages."""
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        return Path(path).read_text(), path
    except FileNotFoundError:
        raise CtcError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CtcError(f"{path} is a directory, not an IR file") from None
    except UnicodeDecodeError as error:
        raise CtcError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start})") from None


def write_text(path: str | None, text: str) -> None:
    """Writes ``text`` to ``path`` atomically (a temporary file renamed into place), or to stdout
    when ``path`` is None or ``-``."""
    if path is None or path == "-":
        sys.stdout.write(text)
        return
    target = Path(path)
    if not target.parent.exists():
        raise CtcError(f"cannot write {path}: directory {target.parent} does not exist")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        # mkstemp creates the file 0600; give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
