"""The peers bench runs end to end (--quick: debug flavors) and tables every contender."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from peers_regimes import regimes  # noqa: E402
from peers_run import CONTENDERS  # noqa: E402


@pytest.mark.slow
def test_quick_bench_tables_every_contender(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "peers.py"), "--quick", "--results", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    output = completed.stdout
    results = json.loads((tmp_path / "peers-quick.json").read_text())
    assert [r["regime"]["key"] for r in results] == [r.key for r in regimes(quick=True)]
    for result in results:
        for key, _ in CONTENDERS:
            entry = result["contenders"][key]
            assert "error" not in entry, f"{result['regime']['key']} {key}: {entry}"
            if "skipped" in entry:
                assert key == "ctc-tp-auto" and "tp=" not in result["regime"]["mesh"]
                continue
            assert entry["step_ms"] > 0 and entry["collectives"] > 0
        assert output.count("\n  " + CONTENDERS[0][1]) == len(results)
    for key, title in CONTENDERS:
        ran = [r for r in results if "skipped" not in r["contenders"][key]]
        assert output.count(title) >= len(ran)
    markdown = (tmp_path / "peers-quick.md").read_text()
    assert markdown.count("| ctc bucket(auto) |") == len(results)
    assert "Targets:" in output
