"""Planning time grows linearly with depth: time per IR op of bucket(block), bucket(auto),
reorder and the simulator at 32 blocks of llama3 8B is at most twice that at 8 blocks (issue 12;
bench/scale.py --linear measures 126 blocks against the 1.2x target)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from scale import LINEAR_PASSES, linear_rows  # noqa: E402


@pytest.mark.slow
def test_time_per_op_at_32_blocks_is_at_most_twice_that_at_8(tmp_path: Path) -> None:
    rows = linear_rows([8, 32], tmp_path, quiet=True)
    assert rows[32]["ops"] > 3 * rows[8]["ops"]
    for stage in (*LINEAR_PASSES, "simulate"):
        ratio = rows[32][stage] / rows[8][stage]
        assert ratio <= 2.0, f"{stage}: {rows[8][stage]:.1f} -> {rows[32][stage]:.1f} us/op"
