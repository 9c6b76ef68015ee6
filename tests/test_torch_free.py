"""The IR core, the DSL and the scheduler import neither torch nor torchtitan (DESIGN.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CORE_PACKAGES = ("ctc.ir", "ctc.dsl", "ctc.schedule", "ctc.passes")
FORBIDDEN = ("torch", "torchtitan", "triton")


def _package_dir(package: str) -> Path:
    return ROOT.joinpath(*package.split("."))


@pytest.mark.parametrize("package", CORE_PACKAGES)
def test_no_source_file_imports_torch(package: str) -> None:
    offenders = []
    for path in sorted(_package_dir(package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in FORBIDDEN:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports {name}")
    assert offenders == []


def test_importing_the_core_and_running_ctc_verify_loads_no_torch() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {p}\n" for p in CORE_PACKAGES)
        + "import ctc.cli.main\n"
        + "code = ctc.cli.main.main(['verify', sys.argv[1]])\n"
        + f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        + "assert code == 0 and not loaded, loaded\n"
    )
    example = ROOT / "examples" / "toy_fsdp_tp.ctc"
    result = subprocess.run(
        [sys.executable, "-c", code, str(example)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
