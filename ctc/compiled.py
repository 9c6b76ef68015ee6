"""``ctc.compile``: a module whose training step runs through ctc, for trainers.

``CompiledModule`` stands in for the model: the same parameter and buffer objects under the same
names (its ``state_dict`` is the model's, so checkpoints move freely between the two), and on the
first training call with given input shapes it captures the step (the model, and the loss
function when one is given), runs every stage of the pipeline and compiles it
(``ctc.backend_inductor``); later calls with the same shapes run the compiled step, whose
``backward()`` fills the parameters' ``.grad``. In ``eval()`` or under ``no_grad`` it runs the
eager model. Other input shapes, dtypes or layouts compile again (a ``CtcWarning`` says so),
never reusing a step traced for other inputs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch

from ctc.backend_inductor import StepReport
from ctc.errors import CtcError, CtcWarning
from ctc.passes.manager import RunOptions
from ctc.passes.pipeline import Pipeline


def adopt_children(owner: torch.nn.Module, model: torch.nn.Module) -> None:
    """Registers ``model``'s children, direct parameters and buffers on ``owner`` under their own
    names, so ``owner``'s FQNs are the model's (no ``model.`` prefix)."""
    for name, child in model.named_children():
        owner.add_module(name, child)
    for name, parameter in model.named_parameters(recurse=False):
        owner.register_parameter(name, parameter)
    for name, buffer in model.named_buffers(recurse=False):
        persistent = name not in model._non_persistent_buffers_set
        owner.register_buffer(name, buffer, persistent=persistent)


class _Step(torch.nn.Module):
    """What is captured: ``loss_fn(model(*args, **kwargs), *loss_args)``, or the model's output
    without a loss function, with the model's FQNs."""

    model: torch.nn.Module
    loss_fn: Callable[..., Any] | None

    def __init__(self, model: torch.nn.Module, loss_fn: Callable[..., Any] | None) -> None:
        super().__init__()
        adopt_children(self, model)
        object.__setattr__(self, "model", model)  # not a child: no "model." prefix
        object.__setattr__(self, "loss_fn", loss_fn)

    def forward(
        self, args: tuple[Any, ...], loss_args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        # AOT export swaps this module's parameters and buffers for traced ones; the model's own
        # direct ones (not in an adopted child) are other attributes of the same tensors, so
        # they are swapped in too, else the model would read them as constants.
        direct = {
            name: getattr(self, name)
            for name, _ in [
                *self.model.named_parameters(recurse=False),
                *self.model.named_buffers(recurse=False),
            ]
        }
        if direct:
            output = torch.func.functional_call(self.model, direct, args, kwargs)
        else:
            output = self.model(*args, **kwargs)
        if self.loss_fn is None:
            return output
        return self.loss_fn(output, *loss_args)


@attrs.frozen
class CompileOptions:
    """How ``ctc.compile`` builds a step (the ``ctc.compile`` keywords of the same names)."""

    pipeline: Pipeline = attrs.field(factory=Pipeline)
    dump_dir: Path | None = None
    mesh: Any = None
    tracer: str = "direct"
    run: RunOptions = attrs.field(factory=RunOptions)
    # Train from this IR file's @joint (checked against the capture) instead of the lifted one.
    ir: Path | None = None


@attrs.define
class CompiledStep:
    """One compiled step: the callable, what compiling it did, and how long it took."""

    function: Callable[..., Any]
    report: StepReport
    seconds: float


def _describe(leaf: Any) -> object:
    """What a step input must match for a compiled step to be reused."""
    from torch.distributed.tensor import DTensor

    if isinstance(leaf, DTensor):
        local = leaf.to_local()
        return ("dtensor", tuple(leaf.placements), _describe(local))
    if isinstance(leaf, torch.Tensor):
        return (
            "tensor",
            tuple(leaf.shape),
            leaf.dtype,
            leaf.stride(),
            leaf.device.type,
            leaf.requires_grad,
        )
    if isinstance(leaf, int | float | bool | str | type(None) | torch.dtype | torch.device):
        return (type(leaf).__name__, leaf)
    if callable(leaf):
        return ("callable", getattr(leaf, "__qualname__", type(leaf).__qualname__))
    return ("object", type(leaf).__qualname__)


def _context_key(context: Any) -> object:
    """A pytree node's context as a key: constants and their containers as they are, functions by
    qualified name, other objects by type (a BlockMask's context holds its mask function)."""
    if context is None or isinstance(context, int | float | bool | str):
        return context
    if isinstance(context, list | tuple):
        return tuple(_context_key(item) for item in context)
    if isinstance(context, dict):
        return tuple((str(key), _context_key(value)) for key, value in context.items())
    if callable(context):
        return ("callable", getattr(context, "__qualname__", type(context).__qualname__))
    return ("object", type(context).__qualname__)


def _spec_key(spec: Any) -> object:
    children = tuple(_spec_key(child) for child in spec.children())
    kind = getattr(spec.type, "__qualname__", str(spec.type))
    return (kind, _context_key(spec.context), children)


def input_key(args: tuple[Any, ...], loss_args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A hashable description of a call's inputs: tree structure, tensor metadata, constants."""
    leaves, spec = torch.utils._pytree.tree_flatten((args, loss_args, kwargs))
    return (_spec_key(spec), tuple(_describe(leaf) for leaf in leaves))


class CompiledModule(torch.nn.Module):
    """The model, trained through ctc (see the module docstring)."""

    model: torch.nn.Module
    loss_fn: Callable[..., Any] | None
    _step: _Step

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: Callable[..., Any] | None,
        options: CompileOptions,
    ) -> None:
        super().__init__()
        adopt_children(self, model)
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "loss_fn", loss_fn)
        object.__setattr__(self, "_step", _Step(model, loss_fn))
        self.options = options
        self.compiled: dict[Any, CompiledStep] = {}
        self.train(model.training)

    def forward(self, *args: Any, loss_args: tuple[Any, ...] = (), **kwargs: Any) -> Any:
        if not self.training or not torch.is_grad_enabled():
            return self._step(args, tuple(loss_args), kwargs)
        key = input_key(args, tuple(loss_args), kwargs)
        step = self.compiled.get(key)
        if step is None:
            if self.compiled:
                warnings.warn(
                    f"ctc.compile: new input shapes or types, compiling step #{len(self.compiled) + 1}",
                    CtcWarning,
                    stacklevel=2,
                )
            step = self.compile_step(args, tuple(loss_args), kwargs)
            self.compiled[key] = step
        parameters = [p for _, p in self._step.named_parameters(remove_duplicate=False)]
        buffers = list(self._step.buffers())
        return step.function(*parameters, *buffers, args, tuple(loss_args), kwargs)

    def compile_step(
        self, args: tuple[Any, ...], loss_args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> CompiledStep:
        """Captures and compiles the step for these inputs (see ``ctc.compile``)."""
        from ctc.api import build_compiled_step

        return build_compiled_step(self._step, (args, loss_args, kwargs), self.options)

    def release_cuda_graphs(self) -> None:
        """Drops the CUDA graphs of every compiled step and their memory pools (before the
        process group is destroyed: a graph with collectives holds NCCL); a later training
        call captures again."""
        for step in self.compiled.values():
            if step.report.cuda_graphs is not None:
                step.report.cuda_graphs.release()

    def last_report(self) -> StepReport:
        if not self.compiled:
            raise CtcError("the module has not compiled a step yet (call it in training mode)")
        return list(self.compiled.values())[-1].report
