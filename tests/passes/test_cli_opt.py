"""``ctc opt``: files and stdin, output, the instrumentation flags, errors, no torch."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from ctc.cli.main import main
from ctc.ir import parse_file, parse_module

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_blocks.ctc"


def ctc(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_runs_a_pipeline_to_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_path = tmp_path / "out.ctc"
    code, out, err = ctc(
        capsys, "opt", str(EXAMPLE), "--passes", "outline(kind=block),dce", "-o", str(out_path)
    )
    assert (code, out, err) == (0, "", "")
    result = parse_file(out_path)
    assert sum(op.name == "ctc.region" for op in result.functions[0].ops) == 4


def test_reads_stdin_and_an_empty_pipeline_round_trips(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = EXAMPLE.read_text()
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    code, out, _ = ctc(capsys, "opt", "-")
    assert code == 0 and parse_module(out) == parse_module(text)


def test_flags(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = ctc(
        capsys,
        "opt",
        str(EXAMPLE),
        "--passes",
        "dce,statistics,inline(kind=all)",
        "--print-ir-after=dce,inline",
        "--timing",
        "--verify-each",
    )
    assert code == 0
    assert err.count("// -----// IR Dump After") == 2
    assert "// -----// IR Dump After inline(kind=all) //----- //" in err
    assert "@joint: 21 ops, 0 regions, 4 collectives" in err
    assert "===- ctc timing report -===" in err
    for label in ["(parse input)", "dce", "statistics", "(verify after each pass)"]:
        assert f"  {label}\n" in err
    assert parse_module(out)


def test_a_pass_without_a_function_of_its_stage_is_a_located_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = ctc(capsys, "opt", str(EXAMPLE), "--passes", "dce,inductor(regions)")
    assert (code, out) == (1, "")
    assert err.startswith(
        "<pipeline>:1:5: error: pass 'inductor(regions)' works on @fwd, @bwd, and the module "
        "has @joint\n"
    )


def test_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = ctc(capsys, "opt", str(EXAMPLE), "--passes", "dce,outline")
    assert code == 1 and err.startswith("<pipeline>:1:5: error: pass 'outline' needs option 'kind'")
    code, _, err = ctc(capsys, "opt", str(tmp_path / "nope.ctc"), "--passes", "dce")
    assert code == 1 and "no such file" in err
    bad = tmp_path / "bad.ctc"
    bad.write_text("module {\n  func @joint() -> () {\n    ctc.return(%x)\n  }\n}\n")
    code, _, err = ctc(capsys, "opt", str(bad), "--passes", "dce")
    assert code == 1 and f"{bad}:3:16: error: use of undefined value %x" in err


def test_unverified_breakage_is_caught_at_the_end(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.example_passes import TEST_REGISTRY

    monkeypatch.setattr("ctc.passes.registry.REGISTRY", TEST_REGISTRY)
    code, out, err = ctc(capsys, "opt", str(EXAMPLE), "--passes", "break")
    assert code == 1 and out == ""
    assert err.startswith(
        "error: the IR after the pipeline fails verification (rerun with --verify-each"
    )


def test_torch_free_passes_run_without_torch() -> None:
    code = (
        "import sys\n"
        "from ctc.cli.main import main\n"
        f"assert main(['opt', {str(EXAMPLE)!r}, '--passes', "
        "'outline(kind=block),dce,statistics,inline(kind=block)', '-o', '-']) == 0\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchtitan'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
