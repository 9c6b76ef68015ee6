"""ctc.prelaunch: the checks of a launch, torch-free; the memory estimate and its refusal."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ctc.errors import CtcError
from ctc.models.mesh import MeshSpec
from ctc.models.shapes import SHAPES
from ctc.prelaunch import (
    GIB,
    RANK_BASE_BYTES,
    check_capture,
    check_train,
    estimate_memory,
    machine_memory,
)


def test_the_launch_checks_import_no_torch() -> None:
    code = (
        "import sys\n"
        "import ctc.prelaunch, ctc.launch, ctc.files, ctc.cli.main, ctc.cli.train\n"
        "import ctc.models.shapes, ctc.models.mesh, ctc.models.flavors\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'torchtitan')]\n"
        "assert not bad, bad[:5]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_plan_describes_the_run() -> None:
    plan = check_train(
        "llama3", "debugmodel_flex_attn", "tp=2,dp_shard=2", "regional_inductor", check=True
    )
    assert plan.world_size == 4 and str(plan.mesh) == "dp_shard=2,tp=2"
    assert (plan.batch, plan.seq_len) == (8, 2048), "the flavor's training defaults"
    lines = plan.describe().splitlines()
    assert lines[0] == (
        "training llama3 debugmodel_flex_attn on dp_shard=2,tp=2 (4 gloo processes), "
        "pipeline: inductor(regions)"
    )
    assert lines[1].startswith(
        "batch 8 x sequence 2048, 3 steps, AdamW with the flavor's lr, every step checked"
    )
    assert "estimated memory" in lines[1]


def test_eight_ranks_on_few_cores_are_not_refused() -> None:
    plan = check_train("llama3", "debugmodel", "dp_shard=2,tp=4", seq_len=64, batch=1)
    assert plan.world_size == 8


def test_memory_grows_with_the_model_and_shrinks_with_the_mesh() -> None:
    shape = SHAPES[("llama3", "8B")]

    def per_rank(mesh: str, eager_copy: bool = True) -> int:
        return estimate_memory(shape, MeshSpec.parse(mesh), 1, 8192, eager_copy).per_rank_bytes

    assert per_rank("dp_shard=8") > per_rank("dp_shard=8,tp=8") > RANK_BASE_BYTES
    assert per_rank("dp_shard=8") > per_rank("dp_shard=8", eager_copy=False)
    # 8B float32 parameters and gradients, twice (eager copy), over 8 shards: 8 GB at least.
    assert per_rank("dp_shard=8") > 4 * shape.parameters * 2 * 2 // 8


def test_a_run_that_cannot_fit_is_refused_with_the_numbers() -> None:
    total, available = machine_memory()
    assert total is not None and total > GIB and (available is None or available <= total)
    with pytest.raises(CtcError, match=r"does not fit in this machine's memory: estimated"):
        check_train("llama3", "405B", "dp_shard=2")


def test_capture_checks_its_stages_and_world_size() -> None:
    plan = check_capture("deepseek_v3", "debugmodel", "dp_shard=2,tp=2,ep=2", "bwd, fwd")
    assert plan.stages == ("fwd", "bwd")
    with pytest.raises(CtcError, match="spans 4 ranks"):
        check_capture("llama3", "debugmodel", "dp_shard=2,tp=2", "joint", world_size=8)
