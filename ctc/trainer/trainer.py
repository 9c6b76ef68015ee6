"""``CtcTrainer``: torchtitan's trainer, with the training step compiled by ctc.

Everything but the forward-backward step is torchtitan's: the model and its parallelization
(graph_trainer's SimpleFSDP, TP, EP), the data loader, AdamW and the learning-rate schedule,
gradient clipping, checkpointing, metrics. The step (model and loss together) goes through
``ctc.compile`` with ``--compile.passes``; the compiled module shares the model's parameters, so
the optimizer, the checkpointer and ``state_dict`` see one model.

On rank 0 it prints one line per step; ``summary()`` gives what ``ctc train`` reports at the end
(compile time, step times, collectives per step, the simulated exposed communication of the
compiled step). With ``--ctc.check`` each step is also run eagerly on the same weights and
compared.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torchtitan.trainer import Trainer

from ctc.errors import CtcError
from ctc.trainer.config import CtcCompileConfig, CtcRunConfig


@dataclass
class StepRecord:
    """One step as rank 0 saw it."""

    step: int
    loss: float
    seconds: float
    tokens_per_second: float
    peak_memory_gib: float
    max_difference: float | None = None


class CtcTrainer(Trainer):
    @dataclass(kw_only=True, slots=True)
    class Config(Trainer.Config):
        compile: CtcCompileConfig = field(default_factory=CtcCompileConfig)
        ctc: CtcRunConfig = field(default_factory=CtcRunConfig)

    config: Config

    def __init__(self, config: Config) -> None:
        from ctc import compat

        compat.enable_torchtitan_training()
        if config.ctc.lr:
            for group in config.optimizer.param_groups:
                group.optimizer_kwargs["lr"] = config.ctc.lr
        super().__init__(config)
        if self.parallel_dims.pp_enabled:
            raise CtcError("ctc compiles the whole step: pipeline parallelism is not supported")
        self.compiled = self._compile_model()
        self.eager_twin = copy.deepcopy(self.model_parts[0]) if config.ctc.check else None
        self.records: list[StepRecord] = []
        self._run_start_step: int | None = None
        self._last_difference: float | None = None
        self._tokens_per_step = (
            config.training.local_batch_size
            * config.training.seq_len
            * max(self.parallel_dims.dp_replicate * self.parallel_dims.dp_shard, 1)
        )

    def _compile_model(self) -> Any:
        import ctc

        config = self.config.compile
        model = self.model_parts[0]
        return ctc.compile(
            model,
            self._loss,
            config.passes,
            device="cuda" if self.device.type == "cuda" else "cpu",
            dump_dir=config.ir_dump or None,
            mesh=mesh_layout(self.parallel_dims),
            tracer=config.tracer,
            ir=config.ir or None,
        )

    def _loss(
        self, prediction: torch.Tensor, labels: torch.Tensor, valid_tokens: torch.Tensor
    ) -> torch.Tensor:
        """torchtitan's loss (sum over this rank's tokens / the global token count)."""
        from torch.fx.traceback import annotate

        with annotate({"module_fqn": "loss"}):
            loss, _ = self.loss_fn(prediction, labels, valid_tokens)
        result: torch.Tensor = loss
        return result

    def forward_backward_step(
        self,
        *,
        input_dict: dict[str, torch.Tensor] | list[dict[str, torch.Tensor]],
        labels: torch.Tensor | list[torch.Tensor],
        global_valid_tokens: torch.Tensor,
    ) -> torch.Tensor:
        assert isinstance(input_dict, dict) and isinstance(labels, torch.Tensor)
        inputs, targets, extra = self.post_dataloading_process(input_dict, labels)
        with self.train_context():
            loss: torch.Tensor = self.compiled(
                inputs, loss_args=(targets, global_valid_tokens), **extra
            )
            loss.backward()
        if self.eager_twin is not None:
            self._last_difference = self._compare_with_eager(
                inputs, targets, global_valid_tokens, extra, loss
            )
        return loss

    def _compare_with_eager(
        self,
        inputs: torch.Tensor,
        labels: torch.Tensor,
        valid_tokens: torch.Tensor,
        extra: dict[str, Any],
        loss: torch.Tensor,
    ) -> float:
        """The eager step on the compiled model's current weights; the largest difference of
        the loss and every gradient; raises when it is not allowed (see ``ctc.trainer.check``)."""
        from ctc.trainer.check import compare_step

        assert self.eager_twin is not None
        exact = "inductor" not in str(self.compiled.options.pipeline)
        return compare_step(
            self.model_parts[0],
            self.eager_twin,
            self._loss,
            (inputs, labels, valid_tokens),
            extra,
            loss,
            exact,
            self.step,
        )

    def train_step(self, data_iterator: Iterator[Any]) -> None:
        began = time.perf_counter()
        self._logged_loss: float | None = None
        original = self.metrics_processor.log

        def capture(step: int, global_avg_loss: float, *args: Any, **kwargs: Any) -> None:
            self._logged_loss = float(global_avg_loss)
            original(step, global_avg_loss, *args, **kwargs)

        self.metrics_processor.log = capture
        try:
            super().train_step(data_iterator)
        finally:
            self.metrics_processor.log = original
        seconds = time.perf_counter() - began
        record = StepRecord(
            step=self.step,
            loss=self._logged_loss if self._logged_loss is not None else float("nan"),
            seconds=seconds,
            tokens_per_second=self._tokens_per_step / seconds,
            peak_memory_gib=peak_memory_bytes(self.device) / 2**30,
            max_difference=self._last_difference,
        )
        self.records.append(record)
        if self.config.ctc.progress and torch.distributed.get_rank() == 0:
            print(format_step(record, self.config.training.steps), flush=True)

    def should_continue_training(self) -> bool:
        if self._run_start_step is None:
            self._run_start_step = self.step
        stop_after = self.config.ctc.stop_after
        if stop_after and self.step - self._run_start_step >= stop_after:
            return False
        return super().should_continue_training()

    def summary(self) -> dict[str, Any]:
        """What the run did, for ``ctc train``'s closing lines and ``--json``."""
        from ctc.trainer.report import compiled_step_summary

        steady = [r.seconds for r in self.records[1:]] or [r.seconds for r in self.records]
        return {
            "steps": [vars(record) for record in self.records],
            "first_step_seconds": self.records[0].seconds if self.records else None,
            "mean_step_seconds": statistics.fmean(steady) if steady else None,
            **compiled_step_summary(self.compiled),
        }


def format_step(record: StepRecord, total_steps: int) -> str:
    width = len(str(total_steps))
    check = ""
    if record.max_difference is not None:
        check = f"  eager diff {record.max_difference:.1e}"
    return (
        f"step {record.step:{width}d}/{total_steps}  loss {record.loss:.4f}  "
        f"{record.tokens_per_second:8.0f} tok/s  {record.seconds:6.2f} s  "
        f"peak {record.peak_memory_gib:.2f} GiB{check}"
    )


def peak_memory_bytes(device: torch.device) -> int:
    """The device's peak allocation, or on the CPU this process's peak resident set."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def mesh_layout(parallel_dims: Any) -> Any:
    """ctc's mesh layout of torchtitan's parallel dimensions."""
    from ctc.models.mesh import MeshSpec
    from ctc.models.torchtitan import torchtitan_layout

    degrees = {
        "dp_replicate": parallel_dims.dp_replicate,
        "dp_shard": parallel_dims.dp_shard,
        "tp": parallel_dims.tp,
        "ep": parallel_dims.ep,
    }
    text = ",".join(f"{name}={size}" for name, size in degrees.items() if size > 1)
    return torchtitan_layout(MeshSpec.parse(text or "dp_shard=1"), parallel_dims)
