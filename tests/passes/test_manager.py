"""The pass manager: stage scoping, verification, dumps, timing, failures and reproducers."""

from __future__ import annotations

import io
import shlex
from pathlib import Path

import pytest

from ctc.cli.main import main
from ctc.dsl import parse_pipeline
from ctc.errors import CtcError
from ctc.ir import Module, parse_module, print_module
from ctc.passes.manager import PassFailure, PassManager, RunOptions, timing_report
from tests import example_passes
from tests.example_passes import TEST_REGISTRY

STAGED = """module {
  func @fwd(%x: f32[4]) -> (f32[4]) {
    %dead = aten.neg.default(%x) : f32[4]
    %y = aten.relu.default(%x) : f32[4]
    ctc.return(%y)
  }
  func @bwd(%g: f32[4]) -> (f32[4]) {
    %dead = aten.neg.default(%g) : f32[4]
    ctc.return(%g)
  }
}
"""


@pytest.fixture
def staged() -> Module:
    return parse_module(STAGED)


@pytest.fixture(autouse=True)
def use_test_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ctc.passes.registry.REGISTRY", TEST_REGISTRY)
    example_passes.SEEN.clear()


def run(text: str, module: Module, dump: io.StringIO | None = None, **options: object) -> Module:
    manager = PassManager(parse_pipeline(text), RunOptions(**options), dump=dump)  # type: ignore[arg-type]
    return manager.run(module)


def op_count(module: Module, name: str) -> int:
    return len(module.function(name).ops)


def test_a_scoped_pass_changes_only_its_stage(staged: Module) -> None:
    result = run("fwd(dce)", staged)
    assert (op_count(result, "fwd"), op_count(result, "bwd")) == (2, 2)
    result = run("bwd(dce)", staged)
    assert (op_count(result, "fwd"), op_count(result, "bwd")) == (3, 1)
    assert [f.name for f in result.functions] == ["fwd", "bwd"]
    assert run("dce", staged) == run("fwd(dce),bwd(dce)", staged)


def test_passes_see_only_the_stages_they_work_on(staged: Module) -> None:
    joint = parse_module(STAGED.replace("@bwd", "@joint"))
    run("seen,fwd(seen),bwd(seen)", staged)
    run("seen", joint)
    assert example_passes.SEEN == [("fwd", "bwd"), ("fwd",), ("bwd",), ("fwd",)]


def test_a_pass_with_nothing_to_work_on_is_skipped(staged: Module) -> None:
    joint_only = parse_module(STAGED.replace("@fwd", "@joint").replace("@bwd", "@other"))
    manager = PassManager(parse_pipeline("seen,dce"))
    manager.run(joint_only)
    (skipped,) = manager.skipped()
    assert skipped.text == "seen"
    assert skipped.skipped == "it works on @fwd, @bwd, and the module has @joint, @other"
    assert example_passes.SEEN == []


def test_dumps_name_the_pass_and_parse_back(staged: Module) -> None:
    dump = io.StringIO()
    run("fwd(dce),dce,seen", staged, dump, print_ir_after_all=True)
    sections = dump.getvalue().split("// -----// IR Dump After ")[1:]
    assert [s.split(" //----- //")[0] for s in sections] == ["fwd(dce)", "dce", "seen"]
    for section in sections:
        parse_module("// " + section)  # the header is a comment of the IR syntax
    assert parse_module("// " + sections[-1]) == run("dce", staged)


def test_dump_after_a_name_or_after_a_change(staged: Module) -> None:
    dump = io.StringIO()
    run("dce,seen,dce", staged, dump, print_ir_after=("seen",))
    assert dump.getvalue().count("IR Dump After") == 1
    dump = io.StringIO()
    run("seen,dce,dce,fwd(dce)", staged, dump, print_ir_after_change=True)
    assert dump.getvalue().count("IR Dump After") == 1
    assert "IR Dump After dce //" in dump.getvalue()
    with pytest.raises(CtcError, match=r"--print-ir-after=outline names no pass of the pipeline"):
        PassManager(parse_pipeline("dce"), RunOptions(print_ir_after=("outline",)))


def test_verify_each_catches_the_pass_that_breaks_the_ir(staged: Module) -> None:
    with pytest.raises(PassFailure) as caught:
        run("dce,break,dce", staged, verify_each=True)
    message = str(caught.value)
    assert message.startswith("pass 'break' (2 of 3) produced invalid IR:\n")
    assert "in @fwd: a function must end with ctc.return" in message
    assert caught.value.reproducer is None
    # Without --verify-each the manager runs on; ctc opt verifies at the end.
    run("dce,break", staged)


def test_a_crash_names_the_pass_and_writes_a_reproducer(staged: Module, tmp_path: Path) -> None:
    options = RunOptions(reproducer_dir=str(tmp_path), reproducer_prefix="staged.", device="cpu")
    manager = PassManager(parse_pipeline("fwd(dce),bwd(crash(after=2))"), options)
    with pytest.raises(PassFailure) as caught:
        manager.run(staged)
    directory = tmp_path / "staged.crash.reproducer"
    assert caught.value.reproducer == directory
    assert str(caught.value).splitlines()[0] == (
        "pass 'bwd(crash(after=2))' (2 of 2) failed: RuntimeError: boom"
    )
    assert parse_module((directory / "input.ctc").read_text()) == run("fwd(dce)", staged)
    assert (directory / "pipeline.txt").read_text() == "bwd(crash(after=2))\n"
    assert "Traceback" in (directory / "error.txt").read_text()
    assert caught.value.command == (
        f"ctc opt {directory}/input.ctc --passes 'bwd(crash(after=2))' --device cpu"
    )


def test_the_printed_command_replays_the_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "model.ctc"
    source.write_text(STAGED)
    monkeypatch.chdir(tmp_path)
    code = main(
        ["opt", "model.ctc", "--passes", "dce,fwd(break)", "--verify-each", "--device", "cpu"]
    )
    assert code == 1
    first = capsys.readouterr().err
    assert "error: pass 'fwd(break)' (2 of 2) produced invalid IR" in first
    replay = first.splitlines()[-1].removeprefix("replay with: ")
    assert replay == (
        "ctc opt model.break.reproducer/input.ctc --passes 'fwd(break)' --device cpu --verify-each"
    )
    assert main(shlex.split(replay)[1:]) == 1
    second = capsys.readouterr().err
    assert "error: pass 'fwd(break)' (1 of 1) produced invalid IR" in second
    assert first.splitlines()[1] == second.splitlines()[1]  # the same problem


def test_timing_report_lists_every_pass(staged: Module) -> None:
    manager = PassManager(parse_pipeline("dce,fwd(dce)"), RunOptions(verify_each=True))
    manager.run(staged)
    rows = manager.timings()
    assert [label for label, _ in rows] == ["dce", "fwd(dce)", "(verify after each pass)"]
    report = timing_report(rows)
    assert report.splitlines()[0] == "===- ctc timing report -==="
    assert report.splitlines()[-1].endswith("(verify after each pass)")
    assert timing_report([("x", 0.0)]).splitlines()[-1].split() == ["0.0000", "0.0%", "x"]


def test_an_empty_pipeline_changes_nothing(staged: Module) -> None:
    assert run("", staged) is staged
    assert parse_module(print_module(staged)) == staged
