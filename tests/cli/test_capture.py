"""`ctc capture`: prints verified IR of a captured step; refuses bad input without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ctc.cli.main import main
from ctc.ir import parse_module, verify


def _ctc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctc.cli.main", *args], capture_output=True, text=True, timeout=600
    )


def test_capture_prints_verified_ir_of_the_tiny_step(tmp_path: Path) -> None:
    output = tmp_path / "tiny.ctc"
    result = _ctc("capture", "--model", "tiny", "--mesh", "dp_shard=2,tp=2", "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert "ctc capture: captured" in result.stderr and result.stdout == ""
    module = parse_module(output.read_text(), str(output))
    assert verify(module) == [] and module.mesh == (("dp_shard", 2), ("tp", 2))
    assert [f.name for f in module.functions] == ["joint"]
    assert not list(tmp_path.glob(".tiny.ctc.*")), "a temporary file was left behind"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mesh", "dp_shard=2,pp=2"], "unknown mesh dimension 'pp'"),
        (["--mesh", "dp_shard=2,tp=4", "--world-size", "4"], "spans 8 ranks"),
        (["--mesh", "tp=2", "--flavor", "9B"], "unknown flavor '9B' of llama3"),
        (["--mesh", "dp_shard=3,tp=4"], "dp_shard=3 does not divide the 256 rows of the model"),
    ],
)
def test_bad_input_is_one_line_without_traceback(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["capture", "--model", "llama3", *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["capture", "--help"])
    out = capsys.readouterr().out
    assert "Example:" in out and "--mesh dp_shard=2,tp=4" in out
