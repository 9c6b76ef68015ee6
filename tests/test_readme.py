"""The README's samples are what the commands print: each `$ ctc ...` sample that runs in
seconds is rerun (in a scratch directory that sees examples/) and its output compared with the
README's, numbers masked; `...` in the README stands for the rest of a line. A sample shown
without output must still succeed. The long runs (make demo, ctc train, ctc capture) are left
to their own tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
# Samples that take minutes: they have tests of their own (tests/cli/test_train.py, capture).
LONG = ("make ", "ctc train", "ctc capture")
NUMBER = re.compile(r"\d+(\.\d+)?")


@attrs.frozen
class Sample:
    line: int
    command: str
    output: tuple[str, ...]


def readme_samples() -> list[Sample]:
    """Each `$ command` line of a fenced block, with the lines up to the next one."""
    samples: list[Sample] = []
    in_block = False
    current: tuple[int, str, list[str]] | None = None
    for number, line in enumerate(README.read_text().splitlines(), start=1):
        if line.startswith("```"):
            if current is not None:
                samples.append(Sample(current[0], current[1], tuple(current[2])))
                current = None
            in_block = not in_block
            continue
        if not in_block:
            continue
        if line.startswith("$ "):
            if current is not None:
                samples.append(Sample(current[0], current[1], tuple(current[2])))
            current = (number, line[2:].split("  #")[0].strip(), [])
        elif current is not None:
            current[2].append(line)
    return samples


def _pattern(expected: str) -> re.Pattern[str]:
    """A README line as a pattern: numbers stand for any number, `...` for anything."""
    parts = []
    for piece in re.split(r"(\.\.\.|\d+(?:\.\d+)?)", expected.rstrip()):
        if piece == "...":
            parts.append(".*")
        elif NUMBER.fullmatch(piece):
            parts.append(r"\d+(?:\.\d+)?")
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts) + r"\s*\Z")


SHORT = [s for s in readme_samples() if not s.command.startswith(LONG)]


def test_the_readme_has_short_samples_to_check() -> None:
    assert len(SHORT) >= 5


@pytest.mark.parametrize("sample", SHORT, ids=lambda s: f"README.md:{s.line}")
def test_a_readme_sample_prints_what_the_readme_shows(sample: Sample, tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    bin_dir = Path(sys.executable).parent  # the `ctc` of this environment first
    result = subprocess.run(
        sample.command,
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    if not sample.output:
        assert result.returncode == 0, result.stderr
        return
    printed = (result.stdout + result.stderr).rstrip("\n").splitlines()
    expected = [line for line in sample.output if line.strip()]
    assert len(printed) == len(expected), "\n".join(printed)
    for got, want in zip(printed, expected, strict=True):
        assert _pattern(want).match(got), (
            f"README.md:{sample.line}\n  shows: {want}\n  got:   {got}"
        )
