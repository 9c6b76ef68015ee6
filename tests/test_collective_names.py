"""Collective ops are the schema: outside ``ctc/ir/ops.py`` code asks ``isinstance(op,
AllGatherOp)`` and reads typed accessors, never an op's name, a torch collective's name or a
collective kind spelled as a string. This walks the AST of every module of ``ctc/``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ctc.ir.ops import OP_CLASSES, TORCH_COLLECTIVES

CTC = Path(__file__).parents[1] / "ctc"
SCHEMA = CTC / "ir" / "ops.py"
# An op name of the collective namespace, registered or not (``coll.wait``, ``coll.``).
COLLECTIVE_NAME = re.compile(r"coll\.\w*\Z")
# Collective kinds and torch's names for them: what roles and tables were once spelled with.
KIND_WORDS = {name.removeprefix("coll.") for name in OP_CLASSES if name.startswith("coll.")}
FORBIDDEN_WORDS = (KIND_WORDS - {"wait"}) | set(TORCH_COLLECTIVES)


def _problems(path: Path) -> list[str]:
    """``line: what`` for each thing the schema rule forbids in one file, in line order."""
    problems: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        text = node.value if isinstance(node, ast.Constant) else None
        if isinstance(text, str) and (COLLECTIVE_NAME.match(text) or text in FORBIDDEN_WORDS):
            problems.append((node.lineno, f"the string {text!r}"))
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(side, ast.Attribute) and side.attr == "OP_NAME" for side in sides):
                problems.append((node.lineno, "a comparison with an OP_NAME"))
    return [f"{line}: {what}" for line, what in sorted(problems)]


def test_no_collective_names_or_kinds_outside_the_schema() -> None:
    paths = sorted(path for path in CTC.rglob("*.py") if path != SCHEMA)
    found = [f"{path.relative_to(CTC.parent)}:{p}" for path in paths for p in _problems(path)]
    assert found == []


def test_the_check_finds_what_it_forbids(tmp_path: Path) -> None:
    source = tmp_path / "bad.py"
    source.write_text(
        "if op.name == 'coll.all_gather': pass\n"
        "if op.name == AllGatherOp.OP_NAME: pass\n"
        "role = 'reduce_scatter'\n"
        "target = 'all_to_all_single'\n"
        "ok = ('wait', op.name.startswith('aten.'))\n"
    )
    assert _problems(source) == [
        "1: the string 'coll.all_gather'",
        "2: a comparison with an OP_NAME",
        "3: the string 'reduce_scatter'",
        "4: the string 'all_to_all_single'",
    ]
