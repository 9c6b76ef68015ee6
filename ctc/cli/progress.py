"""Progress lines on stderr for long work in ``ctc opt`` and ``ctc simulate``: a line when a
stage starts and one with its time when it ends, for IR of at least ``LARGE_OPS`` ops (a small
file finishes before a person would look); ``--quiet`` turns them off."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ctc.ir.core import Module, walk_ops

# From this many ops on, parsing, a pass or a simulation takes seconds (llama3 8B: 10k ops).
LARGE_OPS = 5000


def op_count(module: Module) -> int:
    """Every op of every function, nested ones included."""
    return sum(1 for func in module.functions for _ in walk_ops(func.ops))


class Progress:
    """Says what ``command`` does, when enabled; ``stage`` times a block of work."""

    def __init__(self, command: str, enabled: bool) -> None:
        self.command = command
        self.enabled = enabled

    def say(self, message: str) -> None:
        if self.enabled:
            print(f"ctc {self.command}: {message}", file=sys.stderr, flush=True)

    @contextmanager
    def stage(self, what: str) -> Iterator[None]:
        self.say(f"{what} ...")
        start = time.perf_counter()
        yield
        self.say(f"{what}: {time.perf_counter() - start:.1f} s")
