"""``ctc opt`` and ``ctc simulate`` say what they do on large IR, one line per stage with its
time, and nothing with --quiet or on small files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctc.cli.main import main
from ctc.cli.progress import LARGE_OPS

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_blocks.ctc"


def _chain(ops: int) -> str:
    """A valid module of ``ops`` elementwise ops in a chain."""
    lines = ["module {", "  func @fwd(%x: f32[4] {input = 0}) -> (f32[4] {output = 0}) {"]
    previous = "%x"
    for index in range(ops):
        lines.append(f"    %v{index} = aten.neg.default({previous}) : f32[4]")
        previous = f"%v{index}"
    lines += [f"    ctc.return({previous})", "  }", "}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("progress") / "large.ctc"
    path.write_text(_chain(LARGE_OPS))
    return path


def test_opt_shows_each_stage_with_its_time(
    large: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["opt", str(large), "--passes", "dce", "-o", str(tmp_path / "out.ctc")]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"ctc opt: parsed {large}: {LARGE_OPS + 1} ops in ")
    assert lines[1:3] == ["ctc opt: dce (1/1) ...", lines[2]]
    assert lines[2].startswith("ctc opt: dce: ") and lines[2].endswith(" s")
    assert lines[-1].startswith(f"ctc opt: printing and writing {tmp_path / 'out.ctc'}: ")


def test_simulate_shows_its_stages(large: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(large), "--device", "h100"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in err] == ["ctc simulate"] * 3
    assert err[1] == "ctc simulate: simulating on h100 ..."


@pytest.mark.parametrize("command", ["opt", "simulate"])
def test_quiet_and_small_files_print_no_progress(
    command: str, large: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = ["--passes", "dce"] if command == "opt" else []
    assert main([command, str(large), "--quiet", *extra]) == 0
    assert main([command, str(EXAMPLE), *extra]) == 0
    assert "ctc " + command not in capsys.readouterr().err
