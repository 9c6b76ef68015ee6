"""`ctc verify` as a user runs it: readable report, JSON, located errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "toy_fsdp_tp.ctc"


def _ctc(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctc.cli.main", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        cwd=ROOT,
    )


def test_verify_reports_contents() -> None:
    result = _ctc("verify", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout and "mesh: dp_shard=2 x tp=4" in result.stdout
    assert "@joint: 3 args, 2 results" in result.stdout


def test_verify_json_counts_collectives() -> None:
    result = _ctc("verify", "--json", str(EXAMPLE))
    report = json.loads(result.stdout)
    assert report["ok"] is True
    groups = report["functions"][0]["collectives_by_group"]
    assert groups == {"coll.all_gather dp_shard": {"count": 1, "bytes": 96 * 256 * 4}}


def test_verify_error_is_located_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ctc"
    bad.write_text(EXAMPLE.read_text().replace("size = 2", "size = 3"))
    result = _ctc("verify", str(bad))
    assert result.returncode == 1
    assert f"{bad}:10:11: error:" in result.stderr
    assert "Traceback" not in result.stderr
    assert "^" in result.stderr


def test_verify_reads_stdin_and_reports_missing_files() -> None:
    result = _ctc("verify", "-", stdin="module {\n}\n")
    assert result.returncode == 0 and "<stdin>: ok" in result.stdout
    missing = _ctc("verify", "no/such.ctc")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: no such file: no/such.ctc"


def test_help_has_an_example() -> None:
    result = _ctc("verify", "--help")
    assert result.returncode == 0 and "Example:" in result.stdout


def test_every_file_is_reported_even_after_a_bad_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ctc"
    bad.write_text("module {\n  func @joint( {\n}\n")
    result = _ctc("verify", str(EXAMPLE), str(tmp_path / "missing.ctc"), str(bad), str(EXAMPLE))
    assert result.returncode == 1
    assert result.stdout.count(f"{EXAMPLE}: ok") == 2
    assert f"error: no such file: {tmp_path / 'missing.ctc'}" in result.stderr
    assert f"{bad}:2:" in result.stderr and "Traceback" not in result.stderr
    as_json = _ctc("verify", "--json", str(tmp_path / "missing.ctc"), str(EXAMPLE))
    reports = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [report["ok"] for report in reports] == [False, True]
