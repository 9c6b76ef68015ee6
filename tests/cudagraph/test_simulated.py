"""``ctc.cudagraphs`` on the CPU with simulated graphs (``tests.cudagraph.simulated``): the
wrapper's bookkeeping (which inputs are copied, static or kept, outputs written in place, warm-up
then capture then replays, release) through ``ctc.compile``, bitwise against the same pipeline
without ``cudagraph``; and what it refuses. The GPU twin is ``test_gpu.py``."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch

import ctc
import ctc.cudagraphs
from ctc.errors import CtcError
from ctc.launch import run_on_ranks
from ctc.models.llama_plain import SIZES, build_llama, llama_batch
from ctc.models.plain import PlainStep, tiny_inputs
from tests.cudagraph.checks import assert_replays_per_step, assert_same_training
from tests.cudagraph.simulated import SimulatedBackend
from tests.cudagraph.steps import CASES, compare_pipelines

STEPS = 5


@pytest.fixture
def simulated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctc.cudagraphs, "make_backend", SimulatedBackend)


def _plain_step_twice(compiled: Any) -> None:
    for seed in (1, 2):
        compiled(*tiny_inputs(seed)).backward()


def test_functional_all_reduce_on_one_gloo_rank_trains_bitwise_under_simulated_graphs() -> None:
    ((results),) = run_on_ranks(compare_pipelines, 1, ["all_reduce"], STEPS, True)
    result = results["all_reduce"]
    assert_same_training(result, bitwise=True)
    assert_replays_per_step(result["graphs"]["counts"], STEPS)
    assert result["reference"]["counts"] == [{}] * (STEPS + 1)
    assert "coll.all_reduce(" in result["graphs"]["ir"]["fwd"]
    assert 'kind = "cudagraph"' in result["graphs"]["ir"]["bwd"]


@pytest.mark.slow
def test_inductor_all_with_cudagraph_trains_like_inductor_all_under_simulated_graphs() -> None:
    ((results),) = run_on_ranks(compare_pipelines, 1, ["all_reduce_inductor"], STEPS, True)
    assert_same_training(results["all_reduce_inductor"], bitwise=CASES["all_reduce_inductor"][3])
    assert_replays_per_step(results["all_reduce_inductor"]["graphs"]["counts"], STEPS)


@pytest.mark.slow
def test_the_llama_step_on_the_cpu_is_refused_naming_its_first_host_copy(simulated: None) -> None:
    # On the CPU the backward's dtype casts carry device = cpu; on a GPU they name the GPU.
    size = SIZES["tiny"]
    compiled = ctc.compile(build_llama(size), pipeline="cudagraph", device="cuda")
    with pytest.raises(CtcError) as error:
        compiled(*llama_batch(size)).backward()
    assert re.fullmatch(
        r"pass 'cudagraph': cannot capture @bwd in a CUDA graph: %_to_copy_\d+ = "
        r"aten._to_copy.default copies to unpinned host memory: such a copy cannot be captured "
        r"\(\d+ more after it\)",
        str(error.value),
    )


def test_a_forward_called_twice_before_its_backward_is_refused(simulated: None) -> None:
    compiled = ctc.compile(PlainStep(), pipeline="cudagraph", device="cuda")
    _plain_step_twice(compiled)  # warm-up, then capture
    compiled(*tiny_inputs(3))
    with pytest.raises(CtcError, match="called again before the backward of its previous call"):
        compiled(*tiny_inputs(4))


def test_a_parameter_whose_storage_moved_is_refused_naming_it(simulated: None) -> None:
    model = PlainStep()
    compiled = ctc.compile(model, pipeline="cudagraph", device="cuda")
    _plain_step_twice(compiled)
    with torch.no_grad():
        model.blocks[1].w2.weight.data = model.blocks[1].w2.weight.data.clone()
    with pytest.raises(CtcError, match=r"%primals_4 \(param 'blocks.1.w2.weight'\) of @fwd moved"):
        compiled(*tiny_inputs(3))
    compiled.release_cuda_graphs()
    compiled(*tiny_inputs(3)).backward()  # captured again after the release: warms up


def test_outputs_are_the_graphs_static_tensors_overwritten_by_the_next_replay(
    simulated: None,
) -> None:
    compiled = ctc.compile(PlainStep(), pipeline="cudagraph", device="cuda")
    _plain_step_twice(compiled)
    first = compiled(*tiny_inputs(3))
    value = first.detach().clone()
    first.backward()
    second = compiled(*tiny_inputs(4))
    assert second.data_ptr() == first.data_ptr()
    assert not torch.equal(first.detach(), value)  # as documented: clone what must outlive
    second.backward()


def test_release_all_releases_every_live_graph_set(simulated: None) -> None:
    compiled = ctc.compile(PlainStep(), pipeline="cudagraph", device="cuda")
    _plain_step_twice(compiled)
    graphs = compiled.last_report().cuda_graphs
    assert graphs is not None and isinstance(graphs.backend, SimulatedBackend)
    ctc.cudagraphs.release_all()
    assert graphs.backend.releases == 1
    assert all(stage.graph is None and not stage.warmed_up for stage in graphs.stages.values())


def test_cpu_tensors_are_refused_before_capture_naming_the_first() -> None:
    # The real backend: on this machine every tensor is a CPU tensor.
    compiled = ctc.compile(PlainStep(), pipeline="cudagraph", device="cuda")
    with pytest.raises(CtcError) as error:
        compiled(*tiny_inputs(1))
    assert str(error.value) == (
        "cannot capture @fwd in a CUDA graph: argument %primals_1 (param 'blocks.0.w1.weight') "
        "is a cpu tensor ((16, 8)); a CUDA graph replays GPU work only: move it to the GPU"
    )


def test_a_cpu_bound_pipeline_still_refuses_cudagraph_before_anything_runs() -> None:
    with pytest.raises(CtcError, match="needs a cuda target, but the pipeline is bound to cpu"):
        ctc.compile(PlainStep(), pipeline="inductor(all),cudagraph", device="cpu")


def test_a_captured_forward_with_an_uncaptured_backward_trains_like_no_graphs(
    simulated: None,
) -> None:
    torch.manual_seed(0)
    model = PlainStep()
    torch.manual_seed(0)
    reference = PlainStep()
    compiled = ctc.compile(model, pipeline="fwd(cudagraph)", device="cuda")
    plain = ctc.compile(reference, pipeline="", device="cuda")
    for seed in range(4):  # the backward tells the graphs it ran: the forward may replay
        loss, want = compiled(*tiny_inputs(seed)), plain(*tiny_inputs(seed))
        loss.backward()
        want.backward()
        assert torch.equal(loss, want)
    for got, expected in zip(model.parameters(), reference.parameters(), strict=True):
        assert got.grad is not None and torch.equal(got.grad, expected.grad)
    graphs = compiled.last_report().cuda_graphs
    assert graphs is not None and list(graphs.stages) == ["fwd"]
    assert graphs.counts()["fwd"] == ctc.cudagraphs.GraphCounts(warmups=1, captures=1, replays=3)
