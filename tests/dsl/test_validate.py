"""Whole-pipeline validation: stages, declared conflicts, order, target."""

from __future__ import annotations

import pytest

from ctc.dsl import detect_device, parse_pipeline, pipeline_problems
from ctc.dsl import target as target_module
from tests.example_passes import TEST_REGISTRY


def problems(text: str, device: str | None = None) -> list[tuple[int, str]]:
    pipeline = parse_pipeline(text, check=False, registry=TEST_REGISTRY)
    return [(d.column, d.message) for d in pipeline_problems(pipeline, device)]


def test_valid_pipelines_have_no_problems() -> None:
    for text in [
        "",
        "dce,dce",
        "outline(kind=block),bucket(block, prefetch=1),inductor(regions),cudagraph",
        "fwd(bucket(auto)),bwd(bucket(block))",
        "fwd(cudagraph),bwd(dce)",
        "joint(bucket(block)),fwd(inductor(all)),bwd(inductor(regions))",
        "left,dce,joint(left)",
    ]:
        assert problems(text, "cuda") == [], text


def test_every_problem_is_reported_at_once() -> None:
    text = "joint(inductor(all)),example(auto),bucket(block),example(block)"
    assert problems(text) == [
        (7, "pass 'inductor' does not work on stage joint (it works on: fwd, bwd)"),
        (
            50,
            "'example(block)' conflicts with 'example(auto)' (column 22): "
            "pass 'example' may run only once per stage",
        ),
    ]


@pytest.mark.parametrize(
    ("text", "column"),
    [("left,right", 6), ("right,left", 7), ("fwd(left),right", 11), ("left,bwd(right)", 10)],
)
def test_a_conflict_declared_by_either_pass_counts(text: str, column: int) -> None:
    ((found_column, message),) = problems(text)
    assert found_column == column
    assert "pass 'left' declares it conflicts with the other" in message


def test_conflicts_only_within_a_stage() -> None:
    assert problems("joint(left),right") == []
    assert problems("bwd(left),fwd(right)") == []
    ((_, message),) = problems("fwd(left),right")
    assert message.endswith("on stage fwd: pass 'left' declares it conflicts with the other")


def test_must_be_last_holds_per_stage() -> None:
    assert problems("fwd(cudagraph),bwd(dce),bwd(cudagraph)") == []
    ((column, message),) = problems("cudagraph,fwd(dce)")
    assert column == 15
    assert message == (
        "'fwd(dce)' comes after 'cudagraph' (column 1), which must be the last pass on stage fwd"
    )


def test_target_requirements_only_when_bound() -> None:
    assert problems("cudagraph") == []
    assert problems("cudagraph", "cuda") == []
    ((column, message),) = problems("dce,cudagraph", "cpu")
    assert column == 5
    assert message.startswith(
        "pass 'cudagraph' needs a cuda target, but the pipeline is bound to cpu"
    )


def test_detect_device_follows_the_driver_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(target_module.glob, "glob", lambda pattern: [])
    assert detect_device() == "cpu"
    monkeypatch.setattr(target_module.glob, "glob", lambda pattern: ["/dev/nvidia0"])
    assert detect_device() == "cuda"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect_device() == "cpu"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert detect_device() == "cuda"
