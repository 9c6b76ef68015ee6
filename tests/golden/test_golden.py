"""Golden tests of ``ctc opt``: an input file, the command, the expected output files.

Each case is ``cases/NAME.ctc``, whose first lines say how to run it::

    // RUN: ctc opt %s --passes "outline(kind=block),dce"
    // EXIT: 1            (optional; the expected exit status, 0 by default)

``%s`` is the input file. The expected stdout is ``cases/NAME.out``; the expected stderr is
``cases/NAME.err``, which exists only when stderr is not empty. Run pytest with
``--update-goldens`` to rewrite the expected files from the actual output, then read the diff.
"""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest

from ctc.cli.main import main

CASES = Path(__file__).with_name("cases")


def _header(text: str, key: str) -> str | None:
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        if line.startswith(f"// {key}:"):
            return line.split(":", 1)[1].strip()
    return None


def _check(path: Path, actual: str, update: bool) -> None:
    if update:
        if actual:
            path.write_text(actual)
        else:
            path.unlink(missing_ok=True)
        return
    expected = path.read_text() if path.exists() else ""
    if not path.exists() and actual:
        pytest.fail(f"{path.name} is missing; run pytest with --update-goldens to create it")
    assert actual == expected, f"{path.name} differs; --update-goldens rewrites it"


@pytest.mark.parametrize("case", sorted(CASES.glob("*.ctc")), ids=lambda p: p.stem)
def test_golden(
    case: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    text = case.read_text()
    command = _header(text, "RUN")
    assert command is not None, f"{case.name} has no '// RUN: ctc opt %s ...' line"
    argv = shlex.split(command)
    assert argv[:2] == ["ctc", "opt"], f"{case.name}: RUN must run ctc opt"
    # Run where the input is, by a relative name, so messages and reproducer paths are stable.
    shutil.copy(case, tmp_path / case.name)
    monkeypatch.chdir(tmp_path)
    code = main([case.name if word == "%s" else word for word in argv[1:]])
    captured = capsys.readouterr()
    update = bool(request.config.getoption("--update-goldens"))
    _check(case.with_suffix(".out"), captured.out, update)
    _check(case.with_suffix(".err"), captured.err, update)
    assert code == int(_header(text, "EXIT") or 0)


def test_every_expected_file_has_a_case() -> None:
    inputs = {path.stem for path in CASES.glob("*.ctc")}
    orphans = [
        p.name for p in CASES.iterdir() if p.suffix in (".out", ".err") and p.stem not in inputs
    ]
    assert orphans == []
