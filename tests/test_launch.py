"""The launcher (ctc.launch): ranks as processes with the torchrun environment and a process
group; a rank that raises, dies or goes silent ends the job with an error naming it, and every
rank is stopped."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ctc.errors import CtcError
from ctc.launch import RankFailure, run_on_ranks

ROOT = Path(__file__).parents[1]
ENVIRONMENT = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


# Rank functions: top level, so spawned processes can import them.


def _sum_of_ranks(rank: int, world_size: int, tag: str) -> dict[str, Any]:
    import torch
    import torch.distributed as dist

    total = torch.tensor([float(rank)])
    dist.all_reduce(total)
    print(f"hello from rank {rank}")
    return {"tag": tag, "sum": total.item(), "env": {k: os.environ[k] for k in ENVIRONMENT}}


def _own_process_group(rank: int, world_size: int) -> float:
    """What a trainer such as torchtitan's does: init_process_group from the environment."""
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo")
    try:
        total = torch.ones(1)
        dist.all_reduce(total)
        return total.item()
    finally:
        dist.destroy_process_group()


def _rank_one_fails(rank: int, world_size: int, how: str, pid_dir: str) -> None:
    Path(pid_dir, f"{rank}.pid").write_text(str(os.getpid()))
    if rank != 1:
        time.sleep(3600)
    print("rank 1 about to fail")
    if how == "raise":
        raise ValueError("boom on rank 1")
    if how == "ctc-error":
        raise CtcError("unknown flavor 'nope'")
    if how == "exit":
        os._exit(3)
    if how == "silent":
        time.sleep(3600)


def _compute_in_silence(rank: int, world_size: int, seconds: float) -> int:
    """Busy for ``seconds`` without a word, as a long training step is."""
    end = time.monotonic() + seconds
    count = 0
    while time.monotonic() < end:
        count += sum(range(1000))
    return rank


def _cuda_sum(rank: int, world_size: int) -> tuple[str, float, int]:
    import torch
    import torch.distributed as dist

    total = torch.ones(1, device="cuda") * (rank + 1)
    dist.all_reduce(total)
    return str(dist.get_backend()), total.item(), torch.cuda.current_device()


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _pids(directory: Path) -> list[int]:
    return [int(path.read_text()) for path in directory.glob("*.pid")]


def _assert_stopped(pids: list[int]) -> None:
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_ranks_get_the_torchrun_environment_and_a_process_group(tmp_path: Path) -> None:
    echo = io.StringIO()
    results = run_on_ranks(_sum_of_ranks, 2, "x", echo=echo, log_dir=tmp_path)
    assert [r["sum"] for r in results] == [1.0, 1.0] and results[1]["tag"] == "x"
    for rank, result in enumerate(results):
        env = result["env"]
        assert (env["RANK"], env["LOCAL_RANK"]) == (str(rank), str(rank))
        assert (env["WORLD_SIZE"], env["LOCAL_WORLD_SIZE"]) == ("2", "2")
        assert env["MASTER_ADDR"] == "127.0.0.1" and int(env["MASTER_PORT"]) > 0
    # Rank 0's output streams through; the others' stays in their logs.
    assert "hello from rank 0" in echo.getvalue() and "rank 1" not in echo.getvalue()
    assert "hello from rank 1" in (tmp_path / "rank1.log").read_text()


def test_a_rank_that_raises_ends_the_job_naming_it_and_stops_the_others(tmp_path: Path) -> None:
    with pytest.raises(RankFailure) as caught:
        run_on_ranks(
            _rank_one_fails,
            2,
            "raise",
            str(tmp_path),
            echo=io.StringIO(),
            log_dir=tmp_path / "logs",
        )
    message = str(caught.value)
    assert caught.value.rank == 1
    assert message.startswith("rank 1 of 2 raised ValueError: boom on rank 1")
    assert "| rank 1 about to fail" in message and "| ValueError: boom on rank 1" in message
    assert "every rank was stopped" in message and "try:" in message
    assert caught.value.log.exists()
    _assert_stopped(_pids(tmp_path))


@pytest.mark.slow
def test_bad_input_found_on_a_rank_is_its_message_alone(tmp_path: Path) -> None:
    with pytest.raises(RankFailure) as caught:
        run_on_ranks(
            _rank_one_fails,
            2,
            "ctc-error",
            str(tmp_path),
            echo=io.StringIO(),
            log_dir=tmp_path / "logs",
        )
    assert str(caught.value) == "rank 1 of 2: unknown flavor 'nope'\n(every rank was stopped)"
    _assert_stopped(_pids(tmp_path))


@pytest.mark.slow
def test_a_rank_that_dies_is_named_with_its_status(tmp_path: Path) -> None:
    with pytest.raises(RankFailure, match=r"rank 1 of 2 exited with status 3 without returning"):
        run_on_ranks(
            _rank_one_fails, 2, "exit", str(tmp_path), echo=io.StringIO(), log_dir=tmp_path / "logs"
        )
    _assert_stopped(_pids(tmp_path))


@pytest.mark.slow
def test_a_silent_rank_times_out_with_its_stack(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(RankFailure) as caught:
        run_on_ranks(
            _rank_one_fails,
            2,
            "silent",
            str(tmp_path),
            rank_timeout_s=20,
            echo=io.StringIO(),
            log_dir=tmp_path / "logs",
        )
    message = str(caught.value)
    # Rank 1 printed a line just after it started, so rank 0 may time out alone.
    assert re.match(
        r"ranks? 0(, 1)? of 2 wrote nothing, returned nothing and computed nothing for 20 s",
        message,
    )
    assert "in _rank_one_fails" in message, "the faulthandler stack shows where it waits"
    assert "--rank-timeout" in message
    assert time.monotonic() - start < 60
    _assert_stopped(_pids(tmp_path))


@pytest.mark.slow
def test_a_rank_computing_in_silence_is_not_a_silent_rank() -> None:
    """Silence is no output and no CPU: a rank busy for three timeouts runs to its end."""
    results = run_on_ranks(_compute_in_silence, 2, 24.0, rank_timeout_s=8, echo=io.StringIO())
    assert results == [0, 1]


@pytest.mark.slow
def test_a_trainer_can_initialise_its_own_process_group() -> None:
    assert run_on_ranks(_own_process_group, 2, init_process_group=False) == [2.0, 2.0]


@pytest.mark.slow
def test_a_killed_rank_leaves_no_semaphore_and_no_traceback(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from ctc.launch import RankFailure, run_on_ranks\n"
        "from tests.test_launch import _rank_one_fails\n"
        "if __name__ == '__main__':\n"
        "    try:\n"
        f"        run_on_ranks(_rank_one_fails, 2, 'exit', {str(tmp_path)!r}, log_dir={str(tmp_path / 'logs')!r})\n"
        "    except RankFailure as error:\n"
        "        print(error, file=sys.stderr)\n"
    )
    path = tmp_path / "launch_and_fail.py"
    path.write_text(script)
    result = subprocess.run(
        [sys.executable, "-W", "default", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "rank 1 of 2 exited with status 3" in result.stderr
    assert "leaked" not in result.stderr and "Traceback" not in result.stderr
    assert "_queue.Empty" not in result.stderr


@pytest.mark.gpu
@pytest.mark.skipif(not _has_cuda(), reason="needs a CUDA GPU")
def test_on_a_gpu_machine_cuda_tensors_go_through_nccl() -> None:
    ((backend, total, device),) = run_on_ranks(_cuda_sum, 1)
    assert "cuda:nccl" in backend and "cpu:gloo" in backend
    assert total == 1.0 and device == 0
