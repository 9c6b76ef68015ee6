"""The pass table: names, lazy imports, and what every registered class declares."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from ctc.dsl import ALIASES
from ctc.errors import CtcError
from ctc.passes.base import STAGES
from ctc.passes.registry import PASSES, REGISTRY, Registry

PASSES_DIR = Path(__file__).parents[2] / "ctc" / "passes"


def test_names_are_distinct_from_stages() -> None:
    assert not set(PASSES) & set(STAGES)


@pytest.mark.parametrize("name", sorted(PASSES))
def test_every_registered_pass_loads_and_says_what_it_guarantees(name: str) -> None:
    cls = REGISTRY.pass_class(name)
    assert cls.name == name
    assert cls.summary().endswith(".")
    assert cls.__doc__ and "Guarantees" in cls.__doc__
    assert set(cls.stages) <= set(STAGES)
    flags = [spec.positional for spec in cls.option_specs()]
    assert flags == sorted(flags, reverse=True)


def test_a_table_entry_that_names_no_pass_is_an_error() -> None:
    registry = Registry({"dce": "ctc.passes.dce:eliminate_dead_code"})
    with pytest.raises(CtcError, match="which is not a Pass named dce"):
        registry.pass_class("dce")


def test_aliases_expand_to_registered_passes() -> None:
    from ctc.dsl import parse_pipeline

    for expansion in ALIASES.values():
        for entry in parse_pipeline(expansion, check=False).entries:
            assert entry.name in PASSES


def test_the_passes_do_not_import_the_pipeline_language() -> None:
    """``ctc.dsl`` builds pipelines of passes; ``ctc.passes`` knows nothing of the text."""
    offenders = []
    for path in sorted(PASSES_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ctc.dsl"):
                offenders.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Import) and any(
                alias.name.startswith("ctc.dsl") for alias in node.names
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_checking_a_pipeline_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from ctc.cli.main import main\n"
        "main(['pipeline', 'transformer_block_bucketing,regional_inductor,cudagraph'])\n"
        "main(['pipeline', '--list'])\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchtitan'))\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
