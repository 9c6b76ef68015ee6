"""Run a function on N real gloo ranks (separate processes) on the CPU and collect results.

Each rank joins a process group through a FileStore in a fresh temporary directory, runs
``fn(rank, world_size, *args)``, and sends its (picklable) result back. A failing rank's
traceback is re-raised in the parent with the rank named.
"""

from __future__ import annotations

import faulthandler
import os
import tempfile
import traceback
from collections.abc import Callable
from typing import Any

import torch.distributed as dist
import torch.multiprocessing as mp

from ctc.errors import CtcError


def _worker(
    rank: int,
    world_size: int,
    store_path: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    queue: Any,
    timeout_s: float,
) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # A rank still running when the parent gives up prints where it is stuck, then exits.
    faulthandler.dump_traceback_later(timeout_s, exit=True)
    try:
        store = dist.FileStore(store_path, world_size)
        dist.init_process_group("gloo", store=store, rank=rank, world_size=world_size)
        try:
            queue.put((rank, True, fn(rank, world_size, *args)))
        finally:
            dist.destroy_process_group()
    except BaseException:
        queue.put((rank, False, traceback.format_exc()))


def run_on_ranks(
    fn: Callable[..., Any], world_size: int, *args: Any, timeout_s: float = 600
) -> list[Any]:
    """``[fn(rank, world_size, *args) for each rank]``, each in its own gloo process."""
    context = mp.get_context("spawn")
    queue = context.Queue()
    with tempfile.TemporaryDirectory(prefix="ctc-gloo-") as directory:
        store_path = os.path.join(directory, "store")
        processes = [
            context.Process(
                target=_worker,
                args=(rank, world_size, store_path, fn, args, queue, timeout_s + 5),
            )
            for rank in range(world_size)
        ]
        for process in processes:
            process.start()
        results: dict[int, Any] = {}
        try:
            for _ in range(world_size):
                rank, ok, value = queue.get(timeout=timeout_s)
                if not ok:
                    raise CtcError(f"rank {rank} of {world_size} failed:\n{value}")
                results[rank] = value
        finally:
            for process in processes:
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
    return [results[rank] for rank in range(world_size)]
