"""Capturing and lifting the tiny TP+FSDP step (one process, fake process group of 4 ranks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ctc.ir import Module, parse_module, print_module, verify
from ctc.ir.ops import CollectiveOp
from ctc.ir.stats import function_stats
from tests.frontend.fx_count import fx_collectives

GOLDEN = Path(__file__).parent / "golden" / "tiny.ctc"


@pytest.fixture(scope="module")
def tiny_capture(tiny_mesh: Any) -> dict[str, Any]:
    """The joint, forward and backward IR of the tiny step, with what the FX graphs say."""
    from ctc.api import resolve_layout
    from ctc.frontend_fx import export_joint, lift_captured
    from ctc.models.tiny import build_tiny, tiny_inputs

    model = build_tiny(tiny_mesh)
    layout = resolve_layout(model, None)
    group_dims = {tiny_mesh.get_group(dim).group_name: dim for dim in tiny_mesh.mesh_dim_names}
    with export_joint(model, tiny_inputs()) as captured:
        graph = captured.graph_module.graph
        placeholder_descs = [repr(n.meta["desc"]) for n in graph.find_nodes(op="placeholder")]
        fx_counts = fx_collectives(graph, group_dims)
        module = lift_captured(captured, layout, ("joint", "fwd", "bwd"))
    return {
        "module": module,
        "layout": layout,
        "group_dims": group_dims,
        "fx_counts": fx_counts,
        "descs": placeholder_descs,
    }


def test_lifted_module_verifies_and_round_trips_exactly(tiny_capture: dict[str, Any]) -> None:
    module: Module = tiny_capture["module"]
    assert [f.name for f in module.functions] == ["joint", "fwd", "bwd"]
    assert verify(module) == []
    text = print_module(module)
    assert parse_module(text) == module
    assert print_module(parse_module(text)) == text


def test_collective_counts_and_bytes_equal_the_fx_graph(tiny_capture: dict[str, Any]) -> None:
    stats = function_stats(tiny_capture["module"].function("joint"))
    assert stats["collectives_by_group"] == tiny_capture["fx_counts"]
    assert set(tiny_capture["fx_counts"]) == {
        "coll.all_gather dp_shard",
        "coll.reduce_scatter dp_shard",
        "coll.all_reduce tp",
    }


def test_golden_text(tiny_capture: dict[str, Any], request: pytest.FixtureRequest) -> None:
    actual = print_module(tiny_capture["module"])
    if request.config.getoption("--update-goldens"):
        GOLDEN.write_text(actual)
    assert GOLDEN.exists(), f"{GOLDEN} is missing: run pytest with --update-goldens"
    assert actual == GOLDEN.read_text(), f"{GOLDEN.name} differs; --update-goldens rewrites it"


def test_boundary_carries_exact_descriptors_and_friendly_keys(
    tiny_capture: dict[str, Any],
) -> None:
    joint = tiny_capture["module"].function("joint")
    assert [attrs.get("desc").py for attrs in joint.arg_attrs] == tiny_capture["descs"]
    params = [a.get("param").py for a in joint.arg_attrs if "param" in a]
    assert params == [f"blocks.{b}.{w}.weight" for b in (0, 1) for w in ("w1", "w2")]
    assert [a.get("input").py for a in joint.arg_attrs if "input" in a] == [0, 1]
    assert [a.get("tangent").py for a in joint.arg_attrs if "tangent" in a] == [0]
    meshes = [arg for arg in joint.args if str(arg.type) == "opaque<device_mesh>"]
    assert len(meshes) == 4
    assert joint.result_attrs[0].get("loss").py == 0
    grads = [a.get("grad").py for a in joint.result_attrs if "grad" in a]
    assert grads == params
    assert str(joint.result_types[-1]) == "none"


def test_backward_arguments_name_what_the_forward_saved(tiny_capture: dict[str, Any]) -> None:
    module = tiny_capture["module"]
    forward, backward = module.function("fwd"), module.function("bwd")
    saved_results = {attrs.get("saved").py for attrs in forward.result_attrs if "saved" in attrs}
    saved_args = [attrs.get("saved").py for attrs in backward.arg_attrs if "saved" in attrs]
    assert sorted(saved_args) == sorted(saved_results)
    returned = forward.ops[-1].operands
    for arg, attrs in zip(backward.args, backward.arg_attrs, strict=True):
        if "saved" in attrs:
            index = 1 + attrs.get("saved").py  # the forward returns the loss first
            assert getattr(returned[index], "name", None) == arg.name


def test_collectives_name_mesh_dimensions(tiny_capture: dict[str, Any]) -> None:
    module: Module = tiny_capture["module"]
    assert module.mesh == (("dp_shard", 2), ("tp", 2))
    groups = {
        op.group_dims
        for func in module.functions
        for op in func.ops
        if isinstance(op, CollectiveOp)
    }
    assert groups == {("dp_shard",), ("tp",)}


def test_group_names_invert_the_resolution(tiny_capture: dict[str, Any]) -> None:
    inverse = tiny_capture["layout"].group_names()
    expected = {(dim,): name for name, dim in tiny_capture["group_dims"].items()}
    assert inverse == expected


def test_ops_keep_module_paths_phases_and_sequence_numbers(
    tiny_capture: dict[str, Any],
) -> None:
    joint = tiny_capture["module"].function("joint")
    modules = {op.loc.module for op in joint.ops if op.loc.module}
    assert {"blocks.0.w1", "blocks.0.w2", "blocks.1.w1", "blocks.1.w2"} <= modules
    phases = [op.loc.phase for op in joint.ops if op.name != "ctc.return"]
    assert phases.index("bwd") > 0 and set(phases) == {"fwd", "bwd"}
    assert min(op.loc.seq for op in joint.ops if op.loc.seq is not None) >= 0
    first_mm = next(op for op in joint.ops if op.name == "aten.mm.default")
    assert first_mm.loc.annotations is not None
    assert first_mm.loc.annotations.py == {"module_fqn": "blocks.0.w1"}


def test_the_dynamo_tracer_gives_the_same_collectives(
    tiny_mesh: Any, tiny_capture: dict[str, Any]
) -> None:
    import ctc
    from ctc.models.tiny import build_tiny, tiny_inputs

    module = ctc.capture(build_tiny(tiny_mesh), tiny_inputs(), tracer="dynamo")
    joint = module.function("joint")
    assert function_stats(joint)["collectives_by_group"] == tiny_capture["fx_counts"]
    assert {op.loc.module for op in joint.ops if op.name == "aten.mm.default"} >= {
        "blocks.0.w1",
        "blocks.1.w2",
    }
