"""Start N ranks as local processes, collect what each returns, and stop them all on failure.

``run_on_ranks(fn, world_size, *args)`` runs ``fn(rank, world_size, *args)`` in ``world_size``
processes (``spawn``) and returns the results in rank order. ``fn`` must be importable at the
top level of a module and its arguments and result picklable.

What each rank gets:
- the torchrun environment: ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
  ``MASTER_ADDR``, ``MASTER_PORT`` (and ``TORCHELASTIC_USE_AGENT_STORE=True``), pointing at a
  ``TCPStore`` that this process hosts on a free localhost port. So ``init_process_group()``
  with its default ``env://`` rendezvous works inside the rank, as under torchrun: a trainer
  that initialises its own process group (torchtitan's) runs with
  ``init_process_group=False``;
- with ``init_process_group=True`` (the default) a process group already initialised before
  ``fn`` runs and destroyed after it: gloo, or ``cpu:gloo,cuda:nccl`` when CUDA is present
  (each rank then on ``cuda:LOCAL_RANK``); ``backend`` overrides;
- ``torch.set_num_threads``: this machine's cores divided among the ranks (at least 1), unless
  ``OMP_NUM_THREADS`` is set;
- its stdout and stderr in ``LOG_DIR/rankN.log``. Rank 0's output is copied to ``echo`` (default
  ``sys.stderr``) as it comes, so this process's stdout stays the caller's. The log directory is
  removed after a success and kept after a failure (the error names it).

Failure: a rank that raises, dies (a signal, ``os._exit``), or is silent for ``rank_timeout_s``
seconds -- writes nothing, returns nothing, and its processes use almost no CPU (less than
``IDLE_CPU_SHARE`` of the time): hung, not slow; a rank computing a long step in silence runs
on -- ends the job with a ``RankFailure`` (a ``CtcError``) naming the rank, what happened, its last output lines (for a silent rank, the Python stack of its main
thread, dumped on request with faulthandler), where its full log is, and what to try. Every rank
(with its process group: compile workers too) is then stopped: SIGTERM, then SIGKILL. A
``CtcError`` raised in a rank is reported by its message alone (bad input, not a bug). Results
come back over one pipe per rank, so nothing waits on a queue and no semaphore can leak. A rank
whose launcher dies kills itself within a second.
"""

from __future__ import annotations

import contextlib
import faulthandler
import multiprocessing.connection
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import attrs

from ctc.errors import CtcError

DEFAULT_RANK_TIMEOUT_S = 600.0
LAST_LINES = 15
# A rank whose processes used less CPU than this share of the timeout did no work in it.
IDLE_CPU_SHARE = 0.01
_POLL_S = 0.2
_STOP_GRACE_S = 5.0
_FINISH_GRACE_S = 60.0


class RankFailure(CtcError):
    """A rank raised, died or went silent; the job was stopped."""

    def __init__(self, message: str, rank: int, log: Path) -> None:
        super().__init__(message)
        self.rank = rank
        self.log = log


@attrs.frozen
class _RankSetup:
    """What a rank needs besides ``fn`` and its arguments."""

    rank: int
    world_size: int
    master_port: int
    log: str
    launcher_pid: int
    init_process_group: bool
    backend: str | None


@attrs.define
class _Rank:
    """The launcher's view of one rank."""

    number: int
    process: Any
    connection: multiprocessing.connection.Connection
    log: Path
    log_size: int = 0
    last_activity: float = 0.0
    # (time, CPU seconds of its process group) over the last timeout: hung or computing?
    cpu_samples: list[tuple[float, float]] = attrs.field(factory=list)
    started: bool = False  # its faulthandler is listening
    closed: bool = False  # its end of the pipe is closed: it exited
    done: bool = False
    result: Any = None


def run_on_ranks(
    fn: Callable[..., Any],
    world_size: int,
    *args: Any,
    rank_timeout_s: float = DEFAULT_RANK_TIMEOUT_S,
    init_process_group: bool = True,
    backend: str | None = None,
    echo: TextIO | None = None,
    log_dir: str | Path | None = None,
) -> list[Any]:
    """``[fn(rank, world_size, *args) for rank in range(world_size)]``, one process per rank.

    ``echo``: where rank 0's output is copied (default ``sys.stderr``). ``log_dir``: where the
    rank logs go (default: a fresh temporary directory). Raises ``RankFailure``."""
    import torch.distributed as dist
    import torch.multiprocessing as mp

    if world_size < 1:
        raise CtcError(f"the world size must be at least 1, got {world_size}")
    if rank_timeout_s <= 0:
        raise CtcError(f"the rank timeout must be positive, got {rank_timeout_s} s")
    created = log_dir is None
    logs = Path(tempfile.mkdtemp(prefix="ctc-ranks-") if log_dir is None else log_dir)
    logs.mkdir(parents=True, exist_ok=True)
    store = dist.TCPStore("127.0.0.1", 0, None, True, wait_for_workers=False)
    context = mp.get_context("spawn")
    ranks: list[_Rank] = []
    try:
        for number in range(world_size):
            log = logs / f"rank{number}.log"
            log.write_bytes(b"")
            setup = _RankSetup(
                number, world_size, store.port, str(log), os.getpid(), init_process_group, backend
            )
            receiver, sender = context.Pipe(duplex=False)
            process = context.Process(
                target=_rank_main, args=(setup, fn, args, sender), name=f"ctc-rank-{number}"
            )
            process.start()
            sender.close()
            ranks.append(_Rank(number, process, receiver, log, last_activity=time.monotonic()))
        _watch(ranks, rank_timeout_s, echo or sys.stderr, logs)
    finally:
        _stop(ranks, finished=len(ranks) == world_size and all(r.done for r in ranks))
        del store
    if created:
        shutil.rmtree(logs, ignore_errors=True)
    return [rank.result for rank in ranks]


# --- inside a rank -----------------------------------------------------------------------------


def _rank_main(
    setup: _RankSetup,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    connection: multiprocessing.connection.Connection,
) -> None:
    os.setpgrp()  # so stopping this rank also stops what it started (compile workers)
    _redirect_output(setup.log)
    _exit_with_launcher(setup.launcher_pid)
    faulthandler.register(signal.SIGUSR1, all_threads=False)
    os.environ.update(
        RANK=str(setup.rank),
        LOCAL_RANK=str(setup.rank),
        WORLD_SIZE=str(setup.world_size),
        LOCAL_WORLD_SIZE=str(setup.world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(setup.master_port),
        TORCHELASTIC_USE_AGENT_STORE="True",  # the launcher hosts the store; ranks are clients
    )
    connection.send(("started", "", None))  # from now on SIGUSR1 dumps stacks, not kills
    try:
        result = _call(setup, fn, args)
    except CtcError as error:
        connection.send(("error", "CtcError", str(error)))
        return
    except BaseException as error:
        traceback.print_exc()
        sys.stderr.flush()
        connection.send(("raised", type(error).__name__, str(error)))
        return
    connection.send(("ok", "", result))


def _call(setup: _RankSetup, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // setup.world_size))
    if not setup.init_process_group:
        return fn(setup.rank, setup.world_size, *args)
    import torch.distributed as dist

    backend = setup.backend
    if torch.cuda.is_available():
        torch.cuda.set_device(setup.rank % torch.cuda.device_count())
        backend = backend or "cpu:gloo,cuda:nccl"
    dist.init_process_group(backend or "gloo", rank=setup.rank, world_size=setup.world_size)
    try:
        return fn(setup.rank, setup.world_size, *args)
    finally:
        from ctc.cudagraphs import release_all

        release_all()  # CUDA graphs with collectives hold NCCL: drop them first
        dist.destroy_process_group()


def _redirect_output(log: str) -> None:
    descriptor = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)


def _exit_with_launcher(launcher_pid: int) -> None:
    """A rank outliving its launcher would hold its cores forever (a hung collective)."""

    def watch() -> None:
        while os.getppid() == launcher_pid:
            time.sleep(1.0)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="ctc-launcher-watch", daemon=True).start()


# --- in the launcher ---------------------------------------------------------------------------


def _watch(ranks: list[_Rank], timeout_s: float, echo: TextIO, logs: Path) -> None:
    """Returns when every rank has sent its result; raises RankFailure at the first problem."""
    while not all(rank.done for rank in ranks):
        running = [rank for rank in ranks if not rank.done]
        waiting = [r.connection for r in running if not r.closed]
        waiting += [r.process.sentinel for r in running]
        ready = multiprocessing.connection.wait(waiting, timeout=_POLL_S)
        _read_logs(ranks, echo)
        for rank in running:
            if rank.connection in ready:
                _receive(rank, len(ranks), logs)
        for rank in running:
            if rank.process.sentinel not in ready:
                continue
            while not rank.done and not rank.closed and rank.connection.poll():
                _receive(rank, len(ranks), logs)  # what it sent before it exited
            if not rank.done:
                rank.process.join()
                _read_logs(ranks, echo)
                raise _died(rank, len(ranks), logs)
        _sample_cpu(ranks, timeout_s)
        silent = [rank for rank in ranks if _is_silent(rank, timeout_s)]
        if silent:
            raise _silent(ranks, silent, timeout_s, echo, logs)
    _read_logs(ranks, echo)


def _sample_cpu(ranks: list[_Rank], timeout_s: float) -> None:
    """Adds a sample of each running rank's CPU seconds, at most every quarter timeout, keeping
    the samples of the last timeout and one before. A rank is its process group (itself and
    what it started) once it has made one, its own process before."""
    now = time.monotonic()
    running = [rank for rank in ranks if not rank.done]
    interval = min(max(timeout_s / 4, 0.5), 30.0)
    if not running or any(r.cpu_samples and now - r.cpu_samples[-1][0] < interval for r in running):
        return
    usage = _cpu_usage()
    if usage is None:
        return
    by_group, by_process = usage
    for rank in running:
        pid = rank.process.pid
        cpu = by_group.get(pid, by_process.get(pid))
        if cpu is not None:
            rank.cpu_samples.append((now, cpu))
        while len(rank.cpu_samples) > 2 and rank.cpu_samples[1][0] < now - timeout_s:
            rank.cpu_samples.pop(0)


def _is_silent(rank: _Rank, timeout_s: float) -> bool:
    """No output and no result for ``timeout_s``, and (where /proc shows it) its processes
    used almost no CPU over that time."""
    now = time.monotonic()
    if rank.done or now - rank.last_activity <= timeout_s:
        return False
    samples = rank.cpu_samples
    if not samples:
        return True  # no /proc: silence alone decides
    (first_time, first_cpu), (last_time, last_cpu) = samples[0], samples[-1]
    if last_time - first_time < timeout_s:
        return False  # the samples do not cover a whole timeout yet
    return last_cpu - first_cpu < IDLE_CPU_SHARE * (last_time - first_time)


def _cpu_usage() -> tuple[dict[int, float], dict[int, float]] | None:
    """CPU seconds used by the live processes of each process group, and by each process,
    from /proc; None where there is no /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    by_group: dict[int, float] = {}
    by_process: dict[int, float] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat_text = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue  # gone since the listing
        fields = stat_text.rpartition(")")[2].split()
        # After the command name: state, ppid, pgrp (index 2), ..., utime and stime (11, 12).
        if len(fields) > 12:
            seconds = (int(fields[11]) + int(fields[12])) / ticks
            group = int(fields[2])
            by_process[int(entry)] = seconds
            by_group[group] = by_group.get(group, 0.0) + seconds
    return by_group, by_process


def _receive(rank: _Rank, world_size: int, logs: Path) -> None:
    """Reads one message of a rank: started, its result, or how it failed."""
    try:
        status, kind, value = rank.connection.recv()
    except EOFError:
        rank.closed = True  # it exited; its sentinel says how
        return
    if status == "started":
        rank.started, rank.last_activity = True, time.monotonic()
        return
    if status == "ok":
        rank.done, rank.result = True, value
        return
    where = f"rank {rank.number} of {world_size}"
    if status == "error":
        raise RankFailure(f"{where}: {value}\n(every rank was stopped)", rank.number, rank.log)
    raise RankFailure(
        f"{where} raised {kind}: {value}\n"
        + _tail_text(rank)
        + f"every rank was stopped; each rank's full output is in {logs}/\n"
        + "try: the traceback above shows where it failed; rerun with one rank (a mesh of "
        "size 1) to debug it in one process",
        rank.number,
        rank.log,
    )


def _died(rank: _Rank, world_size: int, logs: Path) -> RankFailure:
    code = rank.process.exitcode
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        how = f"was killed by signal {-code} ({name})"
        hint = (
            "the machine may have run out of memory (see `dmesg`): try a smaller --batch or "
            "--seq-len, or fewer ranks"
            if -code == signal.SIGKILL
            else "something outside ctc stopped it"
        )
    else:
        how = f"exited with status {code} without returning a result"
        hint = "its last output above says why"
    return RankFailure(
        f"rank {rank.number} of {world_size} {how}\n"
        + _tail_text(rank)
        + f"every rank was stopped; each rank's full output is in {logs}/\ntry: {hint}",
        rank.number,
        rank.log,
    )


def _silent(
    ranks: list[_Rank], silent: list[_Rank], timeout_s: float, echo: TextIO, logs: Path
) -> RankFailure:
    # Ask every live rank for its Python stacks (faulthandler), so the tail shows where each waits.
    for rank in ranks:
        if rank.started and not rank.done and rank.process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(rank.process.pid, signal.SIGUSR1)
    time.sleep(1.0)
    _read_logs(ranks, echo)
    names = ", ".join(str(rank.number) for rank in silent)
    noun = "rank" if len(silent) == 1 else "ranks"
    tails = "".join(_tail_text(rank) for rank in silent[:2])
    return RankFailure(
        f"{noun} {names} of {len(ranks)} wrote nothing, returned nothing and computed "
        f"nothing for {timeout_s:.0f} s (the rank timeout)\n"
        + tails
        + f"every rank was stopped; each rank's full output (with its stacks) is in {logs}/\n"
        "try: if a step is just slow here, a larger timeout (ctc train --rank-timeout) or a "
        "smaller --seq-len/--batch; if the stacks show ranks waiting in different collectives, "
        "that is a hang to report",
        silent[0].number,
        silent[0].log,
    )


def _read_logs(ranks: list[_Rank], echo: TextIO) -> None:
    """Notes which ranks wrote something since the last look; copies rank 0's new output."""
    now = time.monotonic()
    for rank in ranks:
        try:
            size = rank.log.stat().st_size
        except FileNotFoundError:
            continue
        if size == rank.log_size:
            continue
        if rank.number == 0:
            with rank.log.open("rb") as stream:
                stream.seek(rank.log_size)
                echo.write(stream.read(size - rank.log_size).decode("utf-8", "replace"))
            echo.flush()
        rank.log_size, rank.last_activity = size, now


def _tail_text(rank: _Rank) -> str:
    try:
        lines = rank.log.read_text(errors="replace").splitlines()[-LAST_LINES:]
    except OSError:
        lines = []
    if not lines:
        return f"  (rank {rank.number} wrote no output; its log: {rank.log})\n"
    quoted = "".join(f"  | {line}\n" for line in lines)
    return f"  last output of rank {rank.number} ({rank.log}):\n{quoted}"


def _stop(ranks: list[_Rank], finished: bool) -> None:
    """Every rank still running is stopped with all its processes: SIGTERM, then SIGKILL. After
    a success (``finished``) the ranks first get time to close their process groups."""
    if finished:
        for rank in ranks:
            rank.process.join(timeout=_FINISH_GRACE_S)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [rank for rank in ranks if rank.process.is_alive()]
        if not alive:
            break
        for rank in alive:
            _signal_group(rank.process.pid, sig)
        deadline = time.monotonic() + _STOP_GRACE_S
        for rank in alive:
            rank.process.join(timeout=max(0.0, deadline - time.monotonic()))
    for rank in ranks:
        rank.connection.close()
        with contextlib.suppress(ValueError):
            rank.process.close()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the rank made itself a process group leader
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)  # stopped before it could
