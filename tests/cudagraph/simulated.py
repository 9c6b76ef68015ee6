"""CUDA graphs simulated on the CPU, for testing ``ctc.cudagraphs``' bookkeeping where there is
no GPU: a ``GraphBackend`` with the semantics the wrapper relies on.

- A capture records the function and its arguments and computes nothing that can be trusted:
  its outputs are poisoned (NaN, or -1 for integers) unless they share memory with an argument
  (a real capture's outputs hold whatever the pool held until the first replay).
- A replay runs the function on the captured arguments and writes the results into the
  capture's output tensors, as a real replay writes into the graph's static memory.
- Inputs are not checked for a device (the CPU is the point).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import torch

from ctc.passes.cudagraph import InputPlan


@attrs.define
class SimulatedGraph:
    function: Callable[..., Any]
    args: list[Any]
    outputs: Any


def _storage(tensor: torch.Tensor) -> int:
    return int(tensor.untyped_storage().data_ptr())


def _poison(tensor: torch.Tensor) -> None:
    if tensor.dtype == torch.bool:
        tensor.fill_(True)
    elif tensor.is_floating_point():
        tensor.fill_(float("nan"))
    else:
        tensor.fill_(-1)


class SimulatedBackend:
    """A ``ctc.cudagraphs.GraphBackend`` on the CPU (see the module docstring)."""

    def __init__(self) -> None:
        self.releases = 0

    def check_inputs(self, stage: str, plan: InputPlan, inputs: Sequence[Any]) -> None:
        return None

    def warmup(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def capture(self, function: Callable[..., Any], args: Sequence[Any]) -> tuple[Any, Any]:
        with torch.no_grad():
            outputs = function(*args)
        argument_storages = {_storage(a) for a in args if isinstance(a, torch.Tensor)}
        for output in outputs:
            if isinstance(output, torch.Tensor) and _storage(output) not in argument_storages:
                _poison(output)
        return SimulatedGraph(function, list(args), outputs), outputs

    def replay(self, graph: Any) -> None:
        assert isinstance(graph, SimulatedGraph)
        with torch.no_grad():
            fresh = graph.function(*graph.args)
            for static, value in zip(graph.outputs, fresh, strict=True):
                if isinstance(static, torch.Tensor) and static.data_ptr() != value.data_ptr():
                    static.copy_(value)

    def release(self) -> None:
        self.releases += 1
