"""``ctc.compile`` on plain modules (no mesh): the module it returns stands in for the model,
training through it matches eager, and the pipeline's stages run as declared."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

import ctc
from ctc.dsl import parse_pipeline
from ctc.errors import CtcError, CtcWarning, SourceError
from ctc.ir import parse_module, verify
from ctc.passes.stages import plan_stages


class Block(torch.nn.Module):
    def __init__(self, annotate: bool) -> None:
        super().__init__()
        self.up = torch.nn.Linear(8, 16)
        self.down = torch.nn.Linear(16, 8)
        self.annotate = annotate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.annotate:
            with torch.fx.traceback.annotate({"compile_with_inductor": "mlp"}):
                hidden = torch.nn.functional.gelu(self.up(x))
        else:
            hidden = torch.nn.functional.gelu(self.up(x))
        return x + self.down(hidden)


class Net(torch.nn.Module):
    def __init__(self, annotate: bool = False) -> None:
        super().__init__()
        self.layers = torch.nn.ModuleList([Block(annotate), Block(annotate)])
        self.register_buffer("scale", torch.tensor(0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x * self.scale


def mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((output - target) ** 2).mean()


def pair(annotate: bool = False) -> tuple[Net, Net]:
    torch.manual_seed(0)
    model = Net(annotate)
    twin = Net(annotate)
    twin.load_state_dict(model.state_dict())
    return model, twin


def batch(rows: int = 4, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(rows, 8, generator=generator), torch.randn(rows, 8, generator=generator)


def sgd(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for parameter in model.parameters():
            parameter -= 0.1 * parameter.grad
            parameter.grad = None


def test_the_compiled_module_has_the_models_parameters_and_names() -> None:
    model, _ = pair()
    compiled = ctc.compile(model, mse, "dce", device="cpu")
    assert list(compiled.state_dict()) == list(model.state_dict())
    for (name, parameter), (twin_name, original) in zip(
        compiled.named_parameters(), model.named_parameters(), strict=True
    ):
        assert name == twin_name and parameter is original
    # A checkpoint of the compiled module loads into a fresh model, and back.
    fresh = Net()
    fresh.load_state_dict(compiled.state_dict())
    compiled.load_state_dict(fresh.state_dict())


def test_training_through_ctc_is_bitwise_eager_over_five_steps() -> None:
    model, twin = pair()
    compiled = ctc.compile(model, mse, "dce,reshard_after_forward", device="cpu")
    for step in range(5):
        x, target = batch(seed=step)
        loss = compiled(x, loss_args=(target,))
        loss.backward()
        reference = mse(twin(x), target)
        reference.backward()
        assert torch.equal(loss, reference), step
        for (name, a), (_, b) in zip(
            model.named_parameters(), twin.named_parameters(), strict=True
        ):
            assert torch.equal(a.grad, b.grad), (step, name)
        sgd(model)
        sgd(twin)
    assert len(compiled.compiled) == 1


def test_eval_and_no_grad_run_the_eager_model() -> None:
    model, twin = pair()
    compiled = ctc.compile(model, None, "", device="cpu")
    x, _ = batch()
    with torch.no_grad():
        assert torch.equal(compiled(x), twin(x))
    compiled.eval()
    assert torch.equal(compiled(x), twin(x))
    assert not compiled.compiled


def test_other_input_shapes_compile_again_and_say_so() -> None:
    model, twin = pair()
    compiled = ctc.compile(model, mse, "", device="cpu")
    x, target = batch(rows=4)
    compiled(x, loss_args=(target,)).backward()
    x, target = batch(rows=6)
    with pytest.warns(CtcWarning, match="compiling step #2"):
        loss = compiled(x, loss_args=(target,))
    assert torch.equal(loss, mse(twin(x), target))
    assert len(compiled.compiled) == 2


def test_a_bad_pipeline_fails_before_anything_is_captured() -> None:
    with pytest.raises(SourceError, match="unknown pass 'buckt'"):
        ctc.compile(Net(), mse, "buckt", device="cpu")
    with pytest.raises(SourceError, match="needs a cuda target"):
        ctc.compile(Net(), mse, "inductor(all),cudagraph", device="cpu")


def test_a_pass_whose_stage_never_runs_is_a_located_error() -> None:
    pipeline = parse_pipeline("dce,fwd(dce)", device="cpu")
    with pytest.raises(SourceError) as caught:
        plan_stages(pipeline, available=("joint",))
    assert "<pipeline>:1:9: error: pass 'fwd(dce)' works on @fwd, and this command runs @joint" in (
        str(caught.value)
    )


def test_unscoped_passes_run_on_the_joint_when_they_can_else_on_fwd_and_bwd() -> None:
    plan = plan_stages(parse_pipeline("dce,inductor(regions),bwd(dce)", device="cpu"))
    assert [str(e) for e in plan["joint"].entries] == ["dce"]
    assert [str(e) for e in plan["fwd"].entries] == ["inductor(regions)"]
    assert [str(e) for e in plan["bwd"].entries] == ["inductor(regions)", "bwd(dce)"]


def test_a_pass_with_nothing_to_do_warns_once(tmp_path: Path) -> None:
    model, _ = pair(annotate=False)
    compiled = ctc.compile(model, mse, "inductor(regions)", device="cpu", dump_dir=tmp_path)
    x, target = batch()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled(x, loss_args=(target,)).backward()
    messages = [str(w.message) for w in caught if issubclass(w.category, CtcWarning)]
    assert messages == ["pass 'inductor(regions)' found nothing to do on @fwd, @bwd"]


def test_the_dump_folder_holds_every_stage_as_verified_ir(tmp_path: Path) -> None:
    model, _ = pair()
    compiled = ctc.compile(model, mse, "reshard_after_forward,dce", device="cpu", dump_dir=tmp_path)
    x, target = batch()
    compiled(x, loss_args=(target,)).backward()
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == [
        "bwd.ctc",
        "bwd.lifted.ctc",
        "fwd.ctc",
        "fwd.lifted.ctc",
        "joint.captured.ctc",
        "joint.ctc",
    ]
    for path in tmp_path.iterdir():
        module = parse_module(path.read_text(), str(path))
        assert verify(module) == []
        assert [func.name for func in module.functions] == [path.name.split(".")[0]]


def test_last_report_before_any_step_is_an_error() -> None:
    with pytest.raises(CtcError, match="has not compiled a step yet"):
        ctc.compile(Net(), mse, "", device="cpu").last_report()
