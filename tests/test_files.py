"""ctc.files: every output is written atomically or refused in one line naming the path and the
reason; symlinks, FIFOs and devices are written through; inputs that cannot be read say why."""

from __future__ import annotations

import os
import resource
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ctc.errors import CtcError
from ctc.files import check_output, make_directory, read_text, write_output

ROOT = Path(__file__).parents[1]


def _refused(path: str | Path, reason: str) -> None:
    """Both the early check and the write refuse ``path`` with ``reason``, in one line."""
    for attempt in (lambda: check_output(path), lambda: write_output(path, "text\n")):
        with pytest.raises(CtcError) as caught:
            attempt()
        message = str(caught.value)
        assert message.startswith(f"cannot write {path}: ") and reason in message, message
        assert "\n" not in message


def test_a_new_file_is_written_with_ordinary_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.ctc"
    check_output(target)
    write_output(target, "module {\n}\n")
    assert target.read_text() == "module {\n}\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["out.ctc"], "the probe and temp files are gone"


def test_an_existing_file_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.ctc"
    target.write_text("old")
    target.chmod(0o640)
    write_output(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640


def test_paths_that_cannot_be_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("x")
    _refused(tmp_path, "it is a directory")
    _refused(tmp_path / "missing" / "out.ctc", f"directory {tmp_path}/missing does not exist")
    _refused(tmp_path / "a_file" / "out.ctc", f"{tmp_path}/a_file is not a directory")
    _refused("/proc/out.ctc", "cannot create a file in /proc")
    assert (tmp_path / "a_file").read_text() == "x"


def test_a_full_disk_is_one_line() -> None:
    with pytest.raises(CtcError, match=r"^cannot write /dev/full: No space left on device$"):
        write_output("/dev/full", "text\n" * 1000)


def test_a_file_size_limit_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.ctc"
    target.write_text("the old content\n")
    code = (
        "import sys\nfrom ctc.errors import CtcError\nfrom ctc.files import write_output\n"
        "try:\n    write_output(sys.argv[1], 'x' * 100_000)\n"
        "except CtcError as error:\n    print(error)\n"
    )

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    result = subprocess.run(
        [sys.executable, "-c", code, str(target)],
        capture_output=True,
        text=True,
        preexec_fn=limit_file_size,
        timeout=60,
        cwd=ROOT,
    )
    assert result.stdout.strip() == f"cannot write {target}: File too large", result.stderr
    assert target.read_text() == "the old content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.ctc"]


def test_a_symlink_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.ctc"
    real.write_text("old")
    link = tmp_path / "link.ctc"
    link.symlink_to(real)
    write_output(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    dangling = tmp_path / "dangling.ctc"
    dangling.symlink_to(tmp_path / "created.ctc")
    write_output(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "created.ctc").read_text() == "made"


def test_a_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    check_output(fifo)
    write_output(fifo, "through the pipe\n")
    reader.join(timeout=30)
    assert received == [b"through the pipe\n"] and stat.S_ISFIFO(fifo.stat().st_mode)


def test_dev_stdout_writes_to_the_processes_stdout(tmp_path: Path) -> None:
    code = "from ctc.files import write_output\nwrite_output('/dev/stdout', 'via /dev/stdout\\n')\n"
    piped = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert piped.stdout == "via /dev/stdout\n", piped.stderr
    appended = tmp_path / "log.txt"
    appended.write_text("first\n")
    with appended.open("a") as stream:
        subprocess.run([sys.executable, "-c", code], stdout=stream, timeout=60, cwd=ROOT)
    assert appended.read_text() == "first\nvia /dev/stdout\n", ">> is appended to, not truncated"


def test_inputs_that_cannot_be_read_say_why(tmp_path: Path) -> None:
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "latin1.ctc").write_bytes(b"caf\xe9 au lait")
    cases = {
        str(tmp_path / "missing.ctc"): f"no such file: {tmp_path}/missing.ctc",
        str(tmp_path): f"{tmp_path} is a directory, not an IR file",
        str(tmp_path / "a_file" / "x.ctc"): "a part of the path is not a directory",
        str(tmp_path / "latin1.ctc"): "is not UTF-8 text (invalid continuation byte at byte 3)",
    }
    for path, message in cases.items():
        with pytest.raises(CtcError) as caught:
            read_text(path, "an IR file")
        assert message in str(caught.value)


def test_make_directory_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    assert make_directory(tmp_path / "new" / "deeper").is_dir()
    with pytest.raises(CtcError, match="a file of that name exists"):
        make_directory(tmp_path / "taken")
    with pytest.raises(CtcError, match="cannot create directory"):
        make_directory(tmp_path / "taken" / "below")
