"""bucket(auto) says when the step cannot fit the device whatever the schedule, with the margin,
and ``ctc opt`` prints it as one warning line."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from ctc.cli.main import main
from ctc.dsl import parse_pipeline
from ctc.errors import CtcWarning
from ctc.ir import parse_file
from ctc.passes.manager import PassManager

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_block_fsdp.ctc"


def _profile(tmp_path: Path, memory_bytes: int) -> Path:
    path = tmp_path / "small.json"
    path.write_text(json.dumps({"base": "h100", "memory_bytes": memory_bytes}))
    return path


def _auto_warnings(device: Path) -> list[str]:
    pipeline = parse_pipeline(f'bucket(auto, device="{device}")', device="cuda")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        PassManager(pipeline).run(parse_file(str(EXAMPLE)))
    return [str(w.message) for w in caught if issubclass(w.category, CtcWarning)]


def test_a_step_over_the_device_memory_is_named_with_the_margin(tmp_path: Path) -> None:
    (message,) = _auto_warnings(_profile(tmp_path, 1024))
    assert message.startswith("bucket(auto) on @joint: the step peaks at ")
    assert "over the " in message and "GiB by " in message


def test_a_step_that_fits_gets_no_warning(tmp_path: Path) -> None:
    assert _auto_warnings(_profile(tmp_path, 2**30)) == []


def test_opt_prints_the_warning_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = _profile(tmp_path, 1024)
    out = str(tmp_path / "out.ctc")
    assert (
        main(["opt", str(EXAMPLE), "--passes", f'bucket(auto, device="{device}")', "-o", out]) == 0
    )
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("warning: bucket(auto) on @joint: the step peaks at ")
