"""Reading inputs and writing outputs: every file ctc writes (``-o``, ``--trace``, reproducers)
goes through ``write_output``, and every path is checked by ``check_output`` first.

What writing guarantees:
- a path that cannot be written (a directory, a missing parent directory, a parent that is a
  file, a place where no file can be created such as ``/proc``, a full disk, a file-size limit)
  is a ``CtcError`` of one line: ``cannot write PATH: REASON``;
- a regular file is written atomically: a temporary file in the same directory, renamed over
  the target, so a failed write leaves no half-written file and keeps the old one (and its
  permissions);
- a symlink is written through (its target is replaced, the link stays); a FIFO, a device or
  an existing path under ``/dev`` or ``/proc`` (``/dev/stdout``, ``/dev/null``) is opened and
  written directly, appending;
- ``-`` (or no path) is stdout.

``check_output`` runs the same classification and, for a file to create, creates and removes a
probe file, so a command can refuse a bad ``-o`` before a long capture rather than after it.
Torch-free.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from ctc.errors import CtcError

STDOUT = "-"
# Paths here name open files and devices (/dev/stdout is /proc/self/fd/1): written in place,
# appending, even when they lead to a regular file (the shell's `>> log`).
SPECIAL_DIRECTORIES = ("/dev/", "/proc/")


def read_text(path: str, what: str = "file") -> tuple[str, str]:
    """The text of ``path`` (``-`` is stdin) and the name to use in messages. ``what`` names
    the kind of file in messages (``an IR file``)."""
    if path == STDOUT:
        return sys.stdin.read(), "<stdin>"
    try:
        return Path(path).read_text(encoding="utf-8"), path
    except FileNotFoundError:
        raise CtcError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise CtcError(f"{path} is a directory, not {what}") from None
    except NotADirectoryError:
        raise CtcError(f"no such file: {path} (a part of the path is not a directory)") from None
    except PermissionError:
        raise CtcError(f"cannot read {path}: permission denied") from None
    except UnicodeDecodeError as error:
        raise CtcError(f"{path} is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise CtcError(f"cannot read {path}: {error.strerror or error}") from None


def _refuse(path: str | Path, reason: str) -> CtcError:
    return CtcError(f"cannot write {path}: {reason}")


def _classify(path: str | Path) -> tuple[Path, bool]:
    """(where to write, whether to replace it atomically) after following symlinks; raises for
    a path that can never be written. A path that exists and is not a regular file reached
    through ordinary symlinks (a FIFO, a device, ``/dev/stdout`` whatever it points at) is
    written directly."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        info = None
    except OSError as error:
        raise _refuse(path, error.strerror or str(error)) from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise _refuse(path, "it is a directory (give a file name)")
    target = Path(os.path.realpath(path))
    if info is not None:
        special = os.path.abspath(path).startswith(SPECIAL_DIRECTORIES)
        regular = stat.S_ISREG(info.st_mode) and not special and _same_file(target, info)
        return (target, True) if regular else (Path(path), False)
    parent = target.parent
    if not parent.exists():
        raise _refuse(path, f"directory {parent} does not exist")
    if not parent.is_dir():
        raise _refuse(path, f"{parent} is not a directory")
    return target, True


def _same_file(target: Path, info: os.stat_result) -> bool:
    """Whether ``target`` is the file ``info`` describes (not so for a deleted file)."""
    try:
        other = target.stat()
    except OSError:
        return False
    return (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino)


def check_output(path: str | Path | None) -> None:
    """Raises the ``CtcError`` that ``write_output(path, ...)`` would for a path that cannot be
    written, without writing it (a full disk shows only when writing)."""
    if path is None or str(path) == STDOUT:
        return
    target, regular = _classify(path)
    if not regular:
        if not os.access(target, os.W_OK):
            raise _refuse(path, "permission denied")
        return
    try:
        handle, probe = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as error:
        raise _refuse(path, f"cannot create a file in {target.parent} ({error.strerror})") from None
    os.close(handle)
    os.unlink(probe)


def write_output(path: str | Path | None, content: str | bytes) -> None:
    """Writes ``content`` to ``path`` as the module docstring says; ``None`` or ``-`` is stdout."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path is None or str(path) == STDOUT:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    target, regular = _classify(path)
    if regular:
        _replace_atomically(path, target, data)
        return
    try:
        # Append: /dev/stdout may be a file the shell opened with >>.
        with open(target, "ab") as stream:
            stream.write(data)
    except OSError as error:
        raise _refuse(path, error.strerror or str(error)) from None


def _replace_atomically(path: str | Path, target: Path, data: bytes) -> None:
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as error:
        raise _refuse(path, f"cannot create a file in {target.parent} ({error.strerror})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, _mode_for(target))
        os.replace(temporary, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise _refuse(path, error.strerror or str(error)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _mode_for(target: Path) -> int:
    """An existing file keeps its permissions; a new one gets what ``open()`` would give it
    (mkstemp creates files readable by their owner only)."""
    with contextlib.suppress(FileNotFoundError):
        return stat.S_IMODE(target.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def make_directory(path: str | Path) -> Path:
    """``path`` as a directory, created with its parents when missing; a ``CtcError`` when it
    cannot be (a file in the way, no permission)."""
    directory = Path(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CtcError(f"cannot create directory {path}: a file of that name exists") from None
    except OSError as error:
        raise CtcError(f"cannot create directory {path}: {error.strerror or error}") from None
    return directory
