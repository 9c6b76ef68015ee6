"""``ctc calibrate`` writes a profile that ``ctc simulate --device FILE`` and
``bucket(auto, device=FILE)`` accept; bad requests are refused before anything is measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ctc.cli.main import main
from ctc.dsl import parse_pipeline
from ctc.ir import parse_file
from ctc.schedule.profile import load_profile

EXAMPLE = Path(__file__).parents[2] / "examples" / "two_block_fsdp.ctc"


def _ctc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctc", *args], capture_output=True, text=True, check=False
    )


def test_a_quick_profile_is_accepted_by_simulate_and_bucket_auto(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    profile_path = tmp_path / "p.json"
    calibrated = _ctc("calibrate", "--quick", "-o", str(profile_path))
    assert calibrated.returncode == 0, calibrated.stderr
    assert "ctc calibrate: kernel overhead" in calibrated.stderr
    assert "ctc calibrate: matmul 1/2" in calibrated.stderr
    profile = load_profile(str(profile_path))
    assert profile.calibrated_processes == 1 and profile.matmul_rates
    assert profile.source.startswith("ctc calibrate --device cpu --ranks 1, quick")
    simulated = _ctc("simulate", str(EXAMPLE), "--device", str(profile_path), "--json")
    assert simulated.returncode == 0, simulated.stderr
    report = json.loads(simulated.stdout)
    assert report["device"] == "cpu-calibrated-1proc" and report["step_ms"] > 0
    pipeline = parse_pipeline(f'bucket(auto, device="{profile_path}")')
    (entry,) = pipeline.entries
    scheduled = entry.pass_.run(parse_file(EXAMPLE))
    assert scheduled.functions[0].ops


def test_refusals_come_before_any_measurement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", "--device", "cuda", "--ranks", "2"]) == 1
    assert "--ranks applies to the cpu only" in capsys.readouterr().err
    assert main(["calibrate", "--shapes", str(tmp_path / "none.ctc")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["calibrate", "-o", str(tmp_path)]) == 1
    assert "directory" in capsys.readouterr().err


@pytest.mark.slow
def test_two_ranks_time_gloo_collectives_too(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    completed = _ctc("calibrate", "--quick", "--ranks", "2", "--shapes", str(EXAMPLE), "--json")
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    measurements = result["measurements"]
    kinds = {(s["kind"], s["ranks"]) for s in measurements["collectives"]}
    assert kinds == {
        ("coll.all_gather", 2),
        ("coll.reduce_scatter", 2),
        ("coll.all_reduce", 2),
        ("coll.all_to_all", 2),
    }
    assert measurements["link_fit"]["bandwidth"] > 0
    profile = result["profile"]
    assert profile["calibrated_processes"] == 2
    assert profile["intra_node_latency"] == measurements["link_fit"]["latency"]
    assert "coll.all_gather on 2 ranks" in completed.stderr
