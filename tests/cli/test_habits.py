"""Command-line habits: --version, python -m ctc, --help with every flag's default and an example,
no flag mentioned that does not exist, a closed pipe ends quietly."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ctc.cli.main import CLOSED_PIPE_STATUS, build_parser, main

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "two_block_fsdp.ctc"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {flag for action in parser._actions for flag in action.option_strings}


def test_version_names_ctc_and_what_it_runs_with(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    out = capsys.readouterr().out
    assert exit_.value.code == 0 and re.match(r"ctc \d+\.\d+\.\d+ \(torch ", out)


def test_python_dash_m_ctc_is_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ctc", "pipeline", "transformer_block_bucketing"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0 and result.stdout == "reshard_after_forward,bucket(block)\n", (
        result.stderr
    )


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_help_shows_an_example_and_every_default(name: str) -> None:
    sub = _subcommands()[name]
    help_text = sub.format_help()
    assert "Example:" in help_text and f"ctc {name} " in help_text
    formatter = sub._get_formatter()
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        assert action.help, f"{name} {action.option_strings[0]} has no help"
        if action.nargs == 0 or action.required:
            continue  # a switch, or a flag that must be given
        rendered = formatter._get_help_string(action) or ""  # type: ignore[attr-defined]
        assert "default" in rendered, f"{name} {action.option_strings[0]} hides its default"


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_help_mentions_only_flags_that_exist(name: str) -> None:
    """Prose names the command's own flags; an example line names its own command's."""
    commands = _subcommands()
    for line in commands[name].description.splitlines():  # type: ignore[union-attr]
        for part in line.split("|"):
            words = part.split()
            owner = name
            if len(words) >= 2 and words[0] == "ctc" and words[1] in commands:
                owner = words[1]
            for flag in re.findall(r"(?<![\w-])--[a-z][a-z-]*", part):
                assert flag in _flags(commands[owner]), f"`ctc {name} --help` mentions {flag}"


def _with_closed_stdout(*arguments: str) -> subprocess.CompletedProcess[bytes]:
    """Runs ctc with a stdout whose reader has gone (`ctc ... | head -0`)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ctc", *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read()
    process.wait(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, b"", err)


def test_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    for arguments in (("pipeline", "--list"), ("opt", str(EXAMPLE), "--passes", "dce")):
        result = _with_closed_stdout(*arguments)
        assert result.returncode == CLOSED_PIPE_STATUS and result.stderr == b"", result.stderr


def test_a_closed_stderr_is_no_pass_failure(tmp_path: Path) -> None:
    """The statistics pass writes to stderr; when nobody reads it, the run ends quietly and
    leaves no reproducer."""
    process = subprocess.Popen(
        [sys.executable, "-m", "ctc", "opt", str(EXAMPLE), "--passes", "statistics", "-o", "x"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert process.stderr is not None
    process.stderr.close()
    assert process.wait(timeout=120) == CLOSED_PIPE_STATUS
    assert list(tmp_path.iterdir()) == [], "no reproducer, no output"


def test_simulate_says_where_its_trace_went(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "step.trace.json"
    assert main(["simulate", str(EXAMPLE), "--trace", str(trace), "--json"]) == 0
    captured = capsys.readouterr()
    assert f"wrote the trace to {trace} (open it in ui.perfetto.dev)" in captured.err
    assert trace.exists() and captured.out.startswith("{")
