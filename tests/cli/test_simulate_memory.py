"""``ctc simulate`` says whether the plan fits the device's memory, with the margin, and sizes
expert-parallel token counts (balanced routing, or skewed with --routing-skew)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctc.cli.main import main
from tests.ir.test_symbols import EXPERT_PARALLEL

# 2^35 f32 elements: 128 GiB of parameter, more than an H100's 80 GiB.
TOO_BIG = """module {mesh = [["dp", 2]]} {
  func @f(%w: f32[34359738368]) -> (f32[34359738368]) {
    %y = aten.neg.default(%w) : f32[34359738368]
    ctc.return(%y)
  }
}
"""


def test_a_plan_over_the_device_memory_says_so_with_the_margin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.ctc"
    path.write_text(TOO_BIG)
    assert main(["simulate", str(path), "--device", "h100", "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["device_memory_bytes"] == 80 * 2**30
    assert report["memory_margin_bytes"] == 80 * 2**30 - report["peak_memory_bytes"] < 0
    assert "does not fit: peak 256.0 GiB per rank, the device has 80.0 GiB" in captured.err
    assert main(["simulate", str(path), "--device", "h100"]) == 0
    assert "memory: does not fit" in capsys.readouterr().out


def test_expert_parallel_token_counts_are_sized_and_skewable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ep.ctc"
    path.write_text(EXPERT_PARALLEL)
    reports = []
    for skew in ("1", "2"):
        assert (
            main(["simulate", str(path), "--device", "h100", "--json", "--routing-skew", skew]) == 0
        )
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0]["routed_symbols"] == 2
    assert 0 < reports[0]["compute_ms"] < reports[1]["compute_ms"]
    assert reports[0]["memory_margin_bytes"] > reports[1]["memory_margin_bytes"]
    with pytest.raises(SystemExit) as refused:
        main(["simulate", str(path), "--routing-skew", "0"])
    assert refused.value.code == 2
    assert "--routing-skew: expected a number in (0, 1000], got 0" in capsys.readouterr().err
