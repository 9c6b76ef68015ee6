"""``ctc pipeline``: canonical text, located errors, target binding, the pass list."""

from __future__ import annotations

import pytest

from ctc.cli.main import build_parser, main
from tests.example_passes import TEST_REGISTRY


@pytest.fixture(autouse=True)
def use_test_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ctc.passes.registry.REGISTRY", TEST_REGISTRY)


def ctc(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prints_the_canonical_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = ctc(capsys, "pipeline", "transformer_block_bucketing , regional_inductor")
    assert (code, out, err) == (0, "reshard_after_forward,bucket(block),inductor(regions)\n", "")
    code, out, _ = ctc(capsys, "pipeline", "example(auto)", "--explicit")
    assert out == "example(auto, prefetch=0, cap=none, memory_budget=none, tags=[], flag=false)\n"


def test_errors_are_located_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = ctc(capsys, "pipeline", "dce,example(auto, prefetch=-1)")
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "<pipeline>:1:28: error: option 'prefetch' of pass 'example': "
        "-1 is out of range: expected an int >= 0",
        "  dce,example(auto, prefetch=-1)",
        "  " + " " * 27 + "^",
    ]
    assert "Traceback" not in err


def test_cudagraph_is_refused_only_once_bound_to_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    row9 = "transformer_block_bucketing,regional_inductor,cudagraph"
    assert ctc(capsys, "pipeline", row9)[0:2] == (
        0,
        "reshard_after_forward,bucket(block),inductor(regions),cudagraph\n",
    )
    assert ctc(capsys, "pipeline", row9, "--device", "cuda")[0] == 0
    code, _, err = ctc(capsys, "pipeline", row9, "--device", "cpu")
    assert code == 1
    assert err.startswith("<pipeline>:1:47: error: pass 'cudagraph' needs a cuda target")


def test_list_shows_passes_options_and_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = ctc(capsys, "pipeline", "--list")
    assert code == 0
    assert "  dce - Removes ops whose results nothing reads and that have no effects." in out
    assert "      kind: one of block|inductor (required)" in out
    assert "      stages: fwd, bwd; must be last; devices: cuda" in out
    assert "  transformer_block_bucketing  reshard_after_forward,bucket(block, prefetch=1)" in out


def test_missing_argument(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = ctc(capsys, "pipeline")
    assert code == 1 and "give a pipeline string, or --list" in err


@pytest.mark.parametrize("command", ["pipeline", "opt"])
def test_help_has_an_example(command: str) -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    help_text = subparsers.choices[command].format_help()  # type: ignore[attr-defined]
    assert "Example:" in help_text and f"ctc {command} " in help_text
