"""Every bad command line in bad_commands.txt is refused: a non-zero status, a message with the
expected words on stderr, no traceback, and nothing written. In-process, so the corpus is fast;
refusals of train and capture must come before torch (test_refusals_load_no_torch)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from ctc.cli.main import main

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
CORPUS = HERE / "bad_commands.txt"
EXAMPLE = ROOT / "examples" / "two_block_fsdp.ctc"
MINIMUM_CASES = 60

PROFILES: dict[str, object] = {
    "zero_bandwidth.json": {"base": "cpu", "intra_node_bandwidth": 0},
    "fast.json": {"base": "cpu", "flops_f32": "fast"},
    "efficiency.json": {"base": "h100", "matmul_efficiency": 1.5},
    "boolean.json": {"base": "h100", "gpus_per_node": True},
    "list.json": [1, 2],
    "unknown_field.json": {"base": "cpu", "flops": 1},
    "missing_fields.json": {"name": "mine", "flops_f32": 1e9},
    "bad_base.json": {"base": "tpu"},
}


@attrs.frozen
class Case:
    line: int
    arguments: str
    expected: str


def _cases() -> list[Case]:
    cases = []
    for number, line in enumerate(CORPUS.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        arguments, separator, expected = line.partition("=>")
        assert separator, f"{CORPUS.name}:{number}: no '=>'"
        cases.append(Case(number, arguments.strip(), expected.strip()))
    return cases


def _prepare(tmp: Path) -> None:
    """The inputs the corpus names under {tmp}."""
    (tmp / "dir").mkdir()
    (tmp / "file.txt").write_text("not a directory\n")
    (tmp / "latin1.ctc").write_bytes(b"caf\xe9 au lait\n")
    (tmp / "bad.ctc").write_text("module {\n  func @joint(%x: f32[2] {\n}\n")
    (tmp / "empty.ctc").write_text("module {\n}\n")
    (tmp / "nan.json").write_text('{"base": "cpu", "flops_f32": NaN}')
    (tmp / "broken.json").write_text('{"base": "cpu", "flops_f32": }')
    for name, data in PROFILES.items():
        (tmp / name).write_text(json.dumps(data))


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(directory)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(directory.rglob("*"))
    }


def test_the_corpus_covers_every_subcommand() -> None:
    cases = _cases()
    assert len(cases) >= MINIMUM_CASES
    commands = {shlex.split(case.arguments)[0] for case in cases if case.arguments}
    assert {"verify", "pipeline", "opt", "simulate", "capture", "train"} <= commands


@pytest.mark.parametrize("case", _cases(), ids=lambda case: f"line{case.line}")
def test_a_bad_command_is_refused_with_its_reason(
    case: Case,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    _prepare(inputs)
    work = tmp_path / "work"  # the current directory: where reproducers would go
    work.mkdir()
    monkeypatch.chdir(work)
    substitutions = {"{tmp}": str(inputs), "{example}": str(EXAMPLE)}
    arguments, expected = case.arguments, case.expected
    for key, value in substitutions.items():
        arguments, expected = arguments.replace(key, value), expected.replace(key, value)
    before = _snapshot(tmp_path)
    try:
        status = main(shlex.split(arguments))
    except SystemExit as exit_:  # argparse's refusals
        status = exit_.code if isinstance(exit_.code, int) else 1
    err = capsys.readouterr().err
    assert status != 0, f"accepted: ctc {arguments}"
    assert "Traceback" not in err
    assert expected in err, f"ctc {arguments}\nexpected: {expected}\ngot: {err}"
    assert _snapshot(tmp_path) == before, "the failed command wrote something"


REFUSALS_BEFORE_TORCH = [
    ["train", "--flavor", "nope", "--mesh", "dp_shard=1"],
    ["train", "--mesh", "dp_shard=3,tp=4"],
    ["train", "--model", "llama3", "--flavor", "8B", "--mesh", "dp_shard=8"],
    ["train", "--steps", "-1"],
    ["capture", "--model", "llama3", "--mesh", "dp_shard=3,tp=4"],
    ["capture", "--model", "deepseek_v3", "--mesh", "dp_shard=16,ep=8"],
]


def test_refusals_load_no_torch() -> None:
    """Each refusal is printed before torch is imported (a refusal takes no tens of seconds)."""
    code = (
        "import json, sys\n"
        "from ctc.cli.main import main\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        status = main(argv)\n"
        "    except SystemExit as exit_:\n"
        "        status = exit_.code\n"
        "    assert status != 0, argv\n"
        "    loaded = [m for m in sys.modules if m.split('.')[0] in ('torch', 'torchtitan')]\n"
        "    assert not loaded, (argv, loaded[:5])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(REFUSALS_BEFORE_TORCH)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("error:") == len(REFUSALS_BEFORE_TORCH)
