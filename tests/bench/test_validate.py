"""The validation bench: its ranking rules on made-up rows, and a smoke run end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from validate_gpu import summarize  # noqa: E402
from validate_report import op_kind, ranking  # noqa: E402


def _row(name: str, measured: float, spread: tuple[float, float], simulated: float) -> dict:
    return {
        "pipeline": name,
        "measured_ms": measured,
        "spread_ms": spread,
        "simulated_ms": simulated,
    }


def test_ties_are_spreads_that_overlap_and_only_untied_pairs_must_agree() -> None:
    rows = [
        _row("none", 1000, (980, 1030), 900),
        _row("block", 1010, (1000, 1020), 950),  # tied with none: either order is fine
        _row("auto", 800, (790, 810), 700),
    ]
    order, agrees = ranking(rows)
    assert order == "auto < none = block" and agrees
    rows[2] = _row("auto", 800, (790, 810), 990)  # simulated slower than none: disagrees
    assert ranking(rows) == ("auto < none = block", False)


def test_op_kinds_and_the_gpu_summary() -> None:
    assert op_kind("aten.mm.default") == "matmul"
    assert op_kind("aten._scaled_dot_product_flash_attention.default") == "attention"
    assert op_kind("aten.add.Tensor") == "other kernels" and op_kind("coll.wait") == "wait"
    rows = [
        {"kind": "matmul", "count": 2, "measured_ms": 1.0, "h100_ms": 0.8, "calibrated_ms": 1.1},
        {"kind": "matmul", "count": 1, "measured_ms": 2.0, "h100_ms": 1.0, "calibrated_ms": 2.0},
    ]
    summary = summarize(rows, "cuda")["matmul"]
    assert summary["measured_ms"] == 4.0 and summary["ops"] == 2
    assert summary["h100 median error"] == pytest.approx(-0.35)
    assert summary["h100 worst error"] == pytest.approx(-0.5)
    assert summary["cuda worst error"] == pytest.approx(0.1)


@pytest.mark.slow
def test_a_quick_run_tables_measured_against_simulated(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "validate.py"), "--quick", "--model", "llama3",
         "--ranks", "4", "--pipelines", "none", "auto", "--results", str(tmp_path / "v")],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads((tmp_path / "v" / "llama3-4.json").read_text())
    assert set(result["modules"]) == {"none", "auto"}
    assert all(len(run["step_s"]["auto"]) == 2 for run in result["runs"])
    table = (tmp_path / "v.md").read_text()
    assert table.count("| llama3 | 4 (dp_shard=2,tp=2) |") == 2
    assert "simulated ranking" in completed.stdout
