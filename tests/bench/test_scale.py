"""The scale bench runs its smallest case end to end (capture, bucket(auto), simulate, each in
its own process) and refuses a case whose estimated memory exceeds the limit before starting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCALE = ROOT / "bench" / "scale.py"


@pytest.mark.slow
def test_the_smallest_case_runs_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    completed = subprocess.run(
        [sys.executable, str(SCALE), "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (row,) = json.loads(out.read_text())
    for stage in ("capture", "bucket(auto)", "simulate"):
        assert row[stage]["returncode"] == 0
        assert 0 < row[stage]["peak_gib"] < row["estimate_gib"]
    assert row["simulated"]["memory_margin_bytes"] > 0
    assert "| llama3 debugmodel | dp_shard=2,tp=4 |" in completed.stdout


def test_a_case_over_the_limit_is_refused_before_it_starts() -> None:
    completed = subprocess.run(
        [sys.executable, str(SCALE), "--cases", "dsv3-671b", "--limit-gib", "0.5", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "refused: estimated peak" in completed.stdout
    assert "exceeds the limit 0.5 GiB" in completed.stdout
