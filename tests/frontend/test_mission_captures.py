"""`ctc capture` of every configuration in MISSION.md and of llama3 8B, under the fake process
group (one process each, a minute or so apiece: slow)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from ctc.ir import Module, parse_module, verify
from ctc.ir.core import walk_ops
from ctc.ir.ops import CollectiveOp

pytestmark = pytest.mark.slow


def capture(tmp_path: Path, *args: str) -> Module:
    output = tmp_path / "step.ctc"
    result = subprocess.run(
        [sys.executable, "-m", "ctc.cli.main", "capture", "-q", "-o", str(output), *args],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    module = parse_module(output.read_text(), str(output))
    assert verify(module) == []
    return module


def collectives(module: Module, function: str = "joint") -> Counter[str]:
    ops = walk_ops(module.function(function).ops)
    return Counter(f"{op.name} {op.group_key}" for op in ops if isinstance(op, CollectiveOp))


@pytest.mark.parametrize("flavor", ["debugmodel", "debugmodel_flex_attn"])
def test_llama3_on_dp_shard_2_tp_4(tmp_path: Path, flavor: str) -> None:
    module = capture(tmp_path, "--model", "llama3", "--flavor", flavor, "--mesh", "dp_shard=2,tp=4")
    assert module.mesh == (("dp_shard", 2), ("tp", 4))
    counts = collectives(module)
    assert counts["coll.all_gather dp_shard"] == 46 and counts["coll.reduce_scatter dp_shard"] == 45
    assert counts["coll.all_gather tp"] == 26 and counts["coll.reduce_scatter tp"] == 26
    assert counts["coll.all_reduce tp"] == 16
    ops = Counter(op.name for op in walk_ops(module.function("joint").ops))
    if flavor.endswith("flex_attn"):
        assert ops["higher_order.flex_attention"] == 6
        assert ops["higher_order.flex_attention_backward"] == 6
    else:
        assert ops["aten._scaled_dot_product_flash_attention_for_cpu.default"] == 6


@pytest.mark.parametrize("flavor", ["debugmodel", "debugmodel_flex_attn"])
def test_deepseek_v3_on_dp_shard_2_tp_2_ep_2(tmp_path: Path, flavor: str) -> None:
    module = capture(
        tmp_path, "--model", "deepseek_v3", "--flavor", flavor, "--mesh", "dp_shard=2,tp=2,ep=2"
    )
    assert module.mesh == (("dp_shard", 2), ("tp", 2), ("efsdp", 2), ("ep", 2))
    counts = collectives(module)
    assert counts["coll.all_to_all ep"] == 25
    assert counts["coll.all_gather efsdp"] == 30 and counts["coll.reduce_scatter efsdp"] == 15
    assert {key.split()[1] for key in counts} == {"dp_shard", "tp", "efsdp", "ep"}


def test_forward_and_backward_stages(tmp_path: Path) -> None:
    module = capture(
        tmp_path, "--model", "llama3", "--mesh", "dp_shard=2,tp=4", "--stage", "fwd,bwd"
    )
    assert [f.name for f in module.functions] == ["fwd", "bwd"]
    forward, backward = collectives(module, "fwd"), collectives(module, "bwd")
    assert forward["coll.all_gather dp_shard"] > 0 and backward["coll.reduce_scatter dp_shard"] > 0
    assert forward["coll.reduce_scatter dp_shard"] == 0


@pytest.mark.parametrize("mesh", ["dp_shard=8", "dp_shard=2,tp=4"])
def test_llama3_8b(tmp_path: Path, mesh: str) -> None:
    module = capture(tmp_path, "--model", "llama3", "--flavor", "8B", "--mesh", mesh)
    counts = collectives(module)
    assert counts["coll.all_gather dp_shard"] >= 32 * 7 + 3
    params = [a.get("param") for a in module.function("joint").arg_attrs if "param" in a]
    assert len(params) == 32 * 7 + 3  # 7 per block, embedding, norm, output


@pytest.mark.parametrize(
    ("mesh", "groups"),
    [
        ("dp_replicate=2,dp_shard=2", {"dp_replicate", "dp_shard"}),  # hybrid_shard
        ("dp_replicate=2,tp=2", {"dp_replicate", "tp"}),  # replicate
    ],
)
def test_replicated_data_parallel_modes(tmp_path: Path, mesh: str, groups: set[str]) -> None:
    module = capture(
        tmp_path, "--model", "llama3", "--mesh", mesh, "--batch", "2", "--seq-len", "256"
    )
    counts = collectives(module)
    assert {key.split()[1] for key in counts} == groups
    assert counts["coll.all_reduce dp_replicate"] > 0


STEP_IR = """
import sys
from ctc.frontend_fx import export_joint, lift_captured
from ctc.ir import print_module
from ctc.models.torchtitan import build_step
step = build_step("llama3", "debugmodel", "dp_shard=2,tp=2", batch=2, seq_len=64,
                  fake=sys.argv[1] == "fake")
with export_joint(step.module, step.args, step.kwargs, module_paths=False) as captured:
    print(print_module(lift_captured(captured, step.layout)), end="")
"""


def test_fake_and_real_parameters_capture_the_same_ir() -> None:
    texts = [
        subprocess.run(
            [sys.executable, "-c", STEP_IR, kind], capture_output=True, text=True, timeout=900
        )
        for kind in ("fake", "real")
    ]
    assert all(t.returncode == 0 for t in texts), texts[0].stderr[-2000:] + texts[1].stderr[-2000:]
    assert texts[0].stdout == texts[1].stdout and "coll.all_gather" in texts[0].stdout
