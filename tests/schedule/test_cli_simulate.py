"""``ctc simulate``: the report, --json, --trace, and errors; ctc.schedule stays torch-free."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ctc.cli.main import main

EXAMPLE = str(Path(__file__).parents[2] / "examples" / "two_block_fsdp.ctc")
KEYS = {
    "step_ms",
    "compute_ms",
    "comm_ms",
    "exposed_comm_ms",
    "peak_memory_bytes",
    "collectives",
    "lower_bound_ms",
}


def test_json_report_and_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "step.trace.json"
    assert main(["simulate", EXAMPLE, "--device", "h100", "--trace", str(trace), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) >= KEYS
    assert report["collectives"] == 16
    assert report["step_ms"] >= report["lower_bound_ms"] > 0
    events = json.loads(trace.read_text())["traceEvents"]
    assert any(e["ph"] == "X" and e["cat"] == "comm" for e in events)


def test_text_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", EXAMPLE, "--device", "cpu", "--gpus-per-node", "1"]) == 0
    out = capsys.readouterr().out
    for word in ("step", "compute", "exposed comm", "lower bound", "peak memory"):
        assert word in out


def test_unknown_device(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", EXAMPLE, "--device", "tpu"]) == 1
    assert "unknown device 'tpu'" in capsys.readouterr().err


def test_schedule_imports_no_torch() -> None:
    code = (
        "import sys, ctc.schedule.passes.bucket, ctc.schedule.passes.reorder, ctc.cli.simulate\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'torchtitan')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
