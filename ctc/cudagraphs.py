"""CUDA graphs for the stages that the ``cudagraph`` pass marked.

``ctc.backend_inductor`` compiles each stage of a step (``@fwd``, ``@bwd``) into a callable; for a
stage whose IR is wrapped in ``ctc.region {kind = "cudagraph"}`` it calls ``wrap_marked_stage``,
which returns a ``StageGraph`` in its place. A ``StageGraph``:

1. first call: warms up (runs the compiled stage once, allocating from the graph memory pool, so
   that lazy initialisation such as NCCL communicators and inductor's autotuning happen outside
   the capture, and the pool already holds the memory the capture needs);
2. second call: captures the stage in a CUDA graph, then replays it once;
3. later calls: checks the static inputs, copies the other inputs into the graph's buffers, and
   replays.

Arguments (``ctc.passes.cudagraph.input_plan``, from the IR's argument attributes): parameters
and buffers (DTensors' local tensors included) are static: the graph uses their memory, and a
replay refuses one whose address changed. Values the forward saved for the backward are used
where they are (a captured forward returns them from its own static memory, so they never move;
when one does, it is copied into the tensor seen at capture). Every other tensor (user inputs,
tangents) is copied into a buffer of the graph's own before each replay. Outputs are the graph's
static tensors: a replay overwrites the previous one's (clone what must outlive the next step).
A forward replayed again before the backward of its previous replay ran is refused, since it
would overwrite the activations that backward reads.

The forward and backward of a step share one memory pool and one capture stream
(``CudaGraphSet``, on the step's ``StepReport.cuda_graphs``). ``CudaGraphSet.release()`` (or
``release_all()``, or ``CompiledModule.release_cuda_graphs()``) drops the graphs and their pool;
the next call warms up and captures again. A graph that holds NCCL collectives holds NCCL
resources: release it before ``destroy_process_group`` (``ctc.launch`` does so for its ranks).

Collectives inside a graph run on NCCL. Set ``NCCL_GRAPH_REGISTER=0`` in the environment of
every rank before its process group starts, as the reference compiler toolkit did: NCCL's
registration of graph-captured buffers together with the caching allocator's expandable
segments has given illegal memory accesses upstream. ctc warns when a graph with collectives is
built without it.

What cannot be captured is refused before anything is captured: from the IR by the ``cudagraph``
pass (``.item()``, unpinned host copies, CPU tensors, dynamic shapes), and here, from the
stage's example inputs, any tensor argument that is not on the GPU. CPU tensors that the forward
saved for the backward are the exception: GPU ops make some on the host (SDPA's philox seed and
offset, unused without dropout; with dropout under capture they are GPU tensors); the backward's
graph reads what they held at its capture.
"""

from __future__ import annotations

import contextlib
import os
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import torch

from ctc.errors import CtcError
from ctc.ir.core import Func, walk_ops
from ctc.ir.ops import CollectiveOp
from ctc.passes.cudagraph import (
    COPIED,
    SAVED,
    STATIC,
    InputPlan,
    input_plan,
    marked_for_cuda_graphs,
)

if TYPE_CHECKING:
    from ctc.backend_inductor import StepReport


@attrs.define
class GraphCounts:
    """What a stage's graph did: warm-up runs, captures and replays (a capture is followed by
    one replay, counted)."""

    warmups: int = 0
    captures: int = 0
    replays: int = 0


class GraphBackend(Protocol):
    """What a ``CudaGraphSet`` needs from the device (``CudaBackend``; tests simulate it)."""

    def check_inputs(self, stage: str, plan: InputPlan, inputs: Sequence[Any]) -> None: ...

    def warmup(self) -> contextlib.AbstractContextManager[None]: ...

    def capture(self, function: Callable[..., Any], args: Sequence[Any]) -> tuple[Any, Any]: ...

    def replay(self, graph: Any) -> None: ...

    def release(self) -> None: ...


class CudaBackend:
    """CUDA graphs on one device: one memory pool and one capture stream, created at the first
    warm-up. A graph with no work of its own holds the pool while no stage graph does (the pool
    must exist before warm-ups allocate from it)."""

    def __init__(self) -> None:
        self.device: torch.device | None = None
        self.pool: Any = None
        self.stream: torch.cuda.Stream | None = None
        self._keepalive: torch.cuda.CUDAGraph | None = None

    def check_inputs(self, stage: str, plan: InputPlan, inputs: Sequence[Any]) -> None:
        for index, value in enumerate(inputs):
            if not isinstance(value, torch.Tensor):
                continue
            if value.device.type == "cuda":
                if self.device is not None and value.device != self.device:
                    raise CtcError(
                        f"cannot capture @{stage} in a CUDA graph: argument "
                        f"{plan.labels[index]} is on {value.device}, the graph on {self.device}"
                    )
                self.device = value.device
                continue
            if plan.kinds[index] == SAVED:
                continue  # made by a forward op (SDPA's philox seed and offset): see the docstring
            raise CtcError(
                f"cannot capture @{stage} in a CUDA graph: argument {plan.labels[index]} is a "
                f"{value.device.type} tensor ({tuple(value.shape)}); a CUDA graph replays GPU "
                "work only: move it to the GPU"
            )
        if self.device is None:
            raise CtcError(f"cannot capture @{stage} in a CUDA graph: it has no CUDA tensor input")

    def _ensure_pool(self) -> None:
        if self.pool is not None:
            return
        assert self.device is not None
        with torch.cuda.device(self.device):
            self.pool = torch.cuda.graph_pool_handle()
            self.stream = torch.cuda.Stream()
            keepalive = torch.cuda.CUDAGraph()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "the CUDA graph is empty": it is meant to be
                with torch.cuda.graph(
                    keepalive, pool=self.pool, stream=self.stream, capture_error_mode="thread_local"
                ):
                    pass
        self._keepalive = keepalive

    @contextlib.contextmanager
    def warmup(self) -> Iterator[None]:
        from torch._inductor.cudagraph_trees import _use_cuda_memory_pool_manager

        self._ensure_pool()
        assert self.device is not None and self.stream is not None
        index = self.device.index if self.device.index is not None else 0
        with _use_cuda_memory_pool_manager(index, self.pool, self.stream):
            yield

    def capture(self, function: Callable[..., Any], args: Sequence[Any]) -> tuple[Any, Any]:
        self._ensure_pool()
        graph = torch.cuda.CUDAGraph()
        # thread_local: other threads (NCCL's watchdog, compile workers) may call CUDA meanwhile.
        with (
            torch.cuda.device(self.device),
            torch.cuda.graph(
                graph, pool=self.pool, stream=self.stream, capture_error_mode="thread_local"
            ),
        ):
            outputs = function(*args)
        return graph, outputs

    def replay(self, graph: Any) -> None:
        graph.replay()

    def release(self) -> None:
        if self.pool is None:
            return
        torch.cuda.synchronize(self.device)
        self._keepalive = None
        self.stream = None
        self.pool = None


def make_backend() -> GraphBackend:
    """The backend a new ``CudaGraphSet`` uses (tests replace this function)."""
    return CudaBackend()


# Every graph set alive in this process, for ``release_all``.
_LIVE: weakref.WeakSet[CudaGraphSet] = weakref.WeakSet()


class CudaGraphSet:
    """The CUDA graphs of one compiled step: its stages, one backend (pool and stream), and the
    order check between forward and backward replays."""

    def __init__(self, backend: GraphBackend) -> None:
        self.backend = backend
        self.stages: dict[str, StageGraph] = {}
        # Whether a forward replayed and the backward that reads its activations has not run.
        self.backward_pending = False
        _LIVE.add(self)

    def counts(self) -> dict[str, GraphCounts]:
        """Per stage: warm-ups, captures and replays so far."""
        return {name: attrs.evolve(stage.counts) for name, stage in self.stages.items()}

    def release(self) -> None:
        """Drops every graph, its buffers and outputs, and the memory pool; the next call of a
        stage warms up and captures again."""
        for stage in self.stages.values():
            stage.reset()
        self.backward_pending = False
        self.backend.release()

    def forward_replaying(self) -> None:
        if self.backward_pending:
            raise CtcError(
                "the forward's CUDA graph was called again before the backward of its previous "
                "call ran: the replay would overwrite the activations that backward reads. Call "
                "backward() after each training call (no accumulation over several forwards "
                "with cudagraph), or run without cudagraph"
            )

    def forward_replayed(self) -> None:
        """The forward's outputs now hold activations its backward must read first (set only
        after a replay: a capture or a check that failed leaves nothing pending)."""
        self.backward_pending = True

    def backward_ran(self) -> None:
        self.backward_pending = False


class StageGraph:
    """One stage's compiled callable under a CUDA graph (see the module docstring)."""

    def __init__(
        self, stage: str, function: Callable[..., Any], plan: InputPlan, graphs: CudaGraphSet
    ) -> None:
        self.stage = stage
        self.function = function
        self.plan = plan
        self.graphs = graphs
        self.counts = GraphCounts()
        self.static = plan.indices(STATIC)
        self.saved = plan.indices(SAVED)
        self.copied = plan.indices(COPIED)
        self.reset()

    def reset(self) -> None:
        self.warmed_up = False
        self.graph: Any = None
        self.buffers: list[Any] = []
        self.addresses: dict[int, int] = {}
        self.outputs: Any = None

    def __call__(self, *args: Any) -> Any:
        if not self.warmed_up:
            with self.graphs.backend.warmup():
                outputs = self.function(*args)
            self.warmed_up = True
            self.counts.warmups += 1
            return outputs
        if self.stage == "fwd":
            self.graphs.forward_replaying()
        if self.graph is None:
            self._capture(args)
        else:
            self._check_static(args)
            self._copy_inputs(args)
        self.graphs.backend.replay(self.graph)
        self.counts.replays += 1
        if self.stage == "fwd":
            self.graphs.forward_replayed()
        else:
            self.graphs.backward_ran()
        return type(self.outputs)(self.outputs)

    def _capture(self, args: Sequence[Any]) -> None:
        buffers = list(args)
        for index in self.copied:
            value = args[index]
            buffer = torch.empty_strided(
                value.size(), value.stride(), dtype=value.dtype, device=value.device
            )
            buffers[index] = buffer.copy_(value)
        self.addresses = {index: args[index].data_ptr() for index in self.static}
        self.graph, self.outputs = self.graphs.backend.capture(self.function, buffers)
        self.buffers = buffers
        self.counts.captures += 1

    def _check_static(self, args: Sequence[Any]) -> None:
        for index in self.static:
            if args[index].data_ptr() != self.addresses[index]:
                raise CtcError(
                    f"argument {self.plan.labels[index]} of @{self.stage} moved since its CUDA "
                    "graph was captured (its storage was replaced); parameters and buffers must "
                    "keep their memory, or release the graphs (release_cuda_graphs()) to capture "
                    "again"
                )

    def _copy_inputs(self, args: Sequence[Any]) -> None:
        for index in (*self.saved, *self.copied):
            buffer, value = self.buffers[index], args[index]
            if value.data_ptr() != buffer.data_ptr():
                buffer.copy_(value)


class BackwardMarker:
    """An uncaptured backward of a step whose forward is captured: tells the graph set when it
    ran, so the forward may replay again."""

    def __init__(self, function: Callable[..., Any], graphs: CudaGraphSet) -> None:
        self.function = function
        self.graphs = graphs

    def __call__(self, *args: Any) -> Any:
        outputs = self.function(*args)
        self.graphs.backward_ran()
        return outputs


def _warn_without_nccl_graph_register(func: Func) -> None:
    from ctc.errors import CtcWarning

    has_collectives = any(isinstance(op, CollectiveOp) for op in walk_ops(func.ops))
    if has_collectives and os.environ.get("NCCL_GRAPH_REGISTER") != "0":
        warnings.warn(
            f"@{func.name}'s CUDA graph holds collectives and NCCL_GRAPH_REGISTER is not 0: set "
            "NCCL_GRAPH_REGISTER=0 before the process group starts (NCCL buffer registration "
            "inside CUDA graphs has given illegal memory accesses; see ctc.cudagraphs)",
            CtcWarning,
            stacklevel=3,
        )


def wrap_marked_stage(
    stage: str,
    func: Func,
    function: Callable[..., Any],
    example_inputs: Sequence[Any],
    report: StepReport,
) -> Callable[..., Any]:
    """``function`` (the compiled ``func``) under a CUDA graph when the ``cudagraph`` pass marked
    ``func``; else ``function`` itself, or for an unmarked backward of a captured forward a
    ``BackwardMarker``. Refuses tensor arguments that are not on the GPU."""
    graphs = report.cuda_graphs
    if not marked_for_cuda_graphs(func):
        if stage == "bwd" and graphs is not None and "fwd" in graphs.stages:
            return BackwardMarker(function, graphs)
        return function
    if graphs is None:
        graphs = report.cuda_graphs = CudaGraphSet(make_backend())
    plan = input_plan(func)
    graphs.backend.check_inputs(stage, plan, example_inputs)
    if isinstance(graphs.backend, CudaBackend):
        _warn_without_nccl_graph_register(func)
    wrapped = StageGraph(stage, function, plan, graphs)
    graphs.stages[stage] = wrapped
    return wrapped


def release_all() -> None:
    """Releases every graph set alive in this process (before ``destroy_process_group``)."""
    for graphs in list(_LIVE):
        graphs.release()
