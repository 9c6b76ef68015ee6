"""Building a torchtitan model's parallel training step (glue only: torchtitan's model code and
graph_trainer's parallelize functions do the work).

``build_step`` builds llama3 or deepseek_v3 on the meta device, parallelizes it with
graph_trainer's ``parallelize_fn`` (module-path annotations, TP with sequence and loss parallel,
EP for MoE layers, ``simple_fsdp.data_parallel`` in fully_shard / replicate / hybrid_shard mode
with a mixed-precision policy), then materializes it: under fake tensors (no memory, any size)
or for real. The step is the model plus torchtitan's cross-entropy loss, returning the loss.
"""

from __future__ import annotations

import contextlib
import copy
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import torch

from ctc.errors import CtcError
from ctc.frontend_fx.groups import MeshLayout, grid_of_device_mesh
from ctc.models.flavors import graph_trainer_config, left_out_converters, resolve_flavor
from ctc.models.mesh import MeshSpec, ModelDims
from ctc.models.step import BuiltStep

Progress = Callable[[str], None]


class TrainStep(torch.nn.Module):
    """A model and its loss as one module: ``step(tokens, labels, global_valid_tokens, ...)``
    returns the loss. The model's children, parameters and buffers are registered on the step
    under their own names, so the step's FQNs are the model's (checkpoints stay compatible)."""

    model: torch.nn.Module
    loss_fn: Callable[..., Any]

    def __init__(self, model: torch.nn.Module, loss_fn: Callable[..., Any]) -> None:
        from torch.fx.traceback import annotate_fn

        super().__init__()
        children: list[tuple[str, torch.nn.Module]] = list(model.named_children())
        for name, child in children:
            self.add_module(name, child)
        for name, parameter in model.named_parameters(recurse=False):
            self.register_parameter(name, parameter)
        for name, buffer in model.named_buffers(recurse=False):
            persistent = name not in model._non_persistent_buffers_set
            self.register_buffer(name, buffer, persistent=persistent)
        object.__setattr__(self, "model", model)  # not a child: no "model." prefix
        object.__setattr__(self, "loss_fn", annotate_fn({"module_fqn": "loss"})(loss_fn))

    def forward(
        self,
        tokens: torch.Tensor,
        labels: torch.Tensor,
        global_valid_tokens: torch.Tensor,
        positions: torch.Tensor | None = None,
        attention_masks: Any = None,
    ) -> torch.Tensor:
        prediction = self.model(tokens, positions=positions, attention_masks=attention_masks)
        loss, _ = self.loss_fn(prediction, labels, global_valid_tokens)
        result: torch.Tensor = loss
        return result


def model_dims(model_config: Any, name: str, seq_len: int) -> ModelDims:
    attention = model_config.layers[0].attention
    heads = int(attention.n_heads)
    kv_heads = int(getattr(attention, "n_kv_heads", None) or heads)
    experts = max(
        (int(layer.moe.num_experts) for layer in model_config.layers if layer.moe), default=0
    )
    return ModelDims(name, heads, kv_heads, int(model_config.vocab_size), experts, seq_len)


def ensure_process_group(world_size: int) -> None:
    """A process group of ``world_size`` ranks: the live one if it has that size, else a fake
    one (one process, collectives do nothing), replacing an earlier fake one."""
    import torch.distributed as dist
    from torch.testing._internal.distributed.fake_pg import FakeStore

    if dist.is_initialized():
        if dist.get_world_size() == world_size:
            return
        if dist.get_backend() != "fake":
            raise CtcError(
                f"the mesh needs {world_size} ranks but the process group has "
                f"{dist.get_world_size()}"
            )
        dist.destroy_process_group()
    dist.init_process_group("fake", store=FakeStore(), rank=0, world_size=world_size)


def torchtitan_layout(spec: MeshSpec, parallel_dims: Any) -> MeshLayout:
    """The IR mesh of ``spec`` and torchtitan's device meshes renamed to its dimensions
    (``fsdp`` is ``dp_shard``; ``batch``, ``dp`` and the loss mesh are the data-parallel
    dimensions together; ``world`` is every dense dimension)."""
    import torch.distributed as dist

    dims = spec.ir_dims()
    present = {name for name, _ in dims}
    data = ("dp_replicate", "dp_shard")
    dense = tuple(name for name in ("dp_replicate", "dp_shard", "tp") if name in present)
    rename = {
        "fsdp": ("dp_shard",),
        "batch": data,
        "dp": data,
        "loss_mesh": data,
        "world": dense,
        "pp": (),
        "cp": (),
    }
    keep = {key: tuple(d for d in value if d in present) for key, value in rename.items()}
    meshes = [
        parallel_dims._global_meshes[key] for key in ("dense", "sparse", "dataloading", "loss")
    ]
    meshes.append(parallel_dims._world_mesh)
    grids = []
    for mesh in meshes:
        names = mesh.mesh_dim_names or ()
        mapping = {name: keep.get(name, (name,) if name in present else ()) for name in names}
        grids.append(grid_of_device_mesh(mesh, mapping))
    return MeshLayout(dims, grids, rank=dist.get_rank())


@contextlib.contextmanager
def _materializing(fake: bool) -> Iterator[Any]:
    if not fake:
        yield None
        return
    from torch._subclasses import FakeTensorMode
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    with FakeTensorMode(allow_non_fake_inputs=True, shape_env=ShapeEnv()) as mode:
        yield mode


def build_step(
    model: str,
    flavor: str,
    mesh: str | MeshSpec,
    *,
    batch: int | None = None,
    seq_len: int | None = None,
    fake: bool = True,
    param_dtype: str | None = None,
    reduce_dtype: str | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    layers: int | None = None,
) -> BuiltStep:
    """Builds a torchtitan model's training step on ``mesh`` under the live process group (or a
    fake one when none of the right size exists). ``fake``: materialize parameters as fake
    tensors (no memory; for capture); otherwise for real, seeded by ``seed``.
    ``param_dtype``/``reduce_dtype``: the mixed-precision policy (torchtitan names such as
    ``bfloat16``; defaults from the flavor's config). ``layers``: that many transformer blocks
    instead of the flavor's (the first ones kept, the last one repeated), e.g. to measure how a
    pass scales with depth at a fixed width."""
    from ctc import compat
    from ctc.noise import silence_known_noise

    silence_known_noise()
    say = progress or (lambda message: None)
    spec = mesh if isinstance(mesh, MeshSpec) else MeshSpec.parse(mesh)
    resolved = resolve_flavor(model, flavor)
    config = graph_trainer_config(resolved)
    training = config.training
    training.seq_len = seq_len or training.seq_len
    training.local_batch_size = batch or training.local_batch_size
    if param_dtype:
        training.mixed_precision_param = param_dtype
    if reduce_dtype:
        training.mixed_precision_reduce = reduce_dtype
    model_config = config.model_spec.model
    if layers is not None:
        blocks = model_config.layers
        model_config.layers = [
            copy.deepcopy(blocks[min(i, len(blocks) - 1)]) for i in range(layers)
        ]
    spec.check(model_dims(model_config, f"{model} {resolved.name}", training.seq_len))
    compat.enable_torchtitan_capture()
    ensure_process_group(spec.world_size)

    from torchtitan.components.loss import CrossEntropyLoss
    from torchtitan.config import TORCH_DTYPE_MAP
    from torchtitan.distributed import ParallelDims
    from torchtitan.distributed import utils as dist_utils
    from torchtitan.tools import utils

    parallelism = config.parallelism
    parallelism.data_parallel_replicate_degree = spec.size("dp_replicate")
    parallelism.data_parallel_shard_degree = spec.size("dp_shard")
    parallelism.tensor_parallel_degree = spec.size("tp")
    parallelism.expert_parallel_degree = spec.size("ep")
    parallelism.spmd_backend = "partial_dtensor"
    dist_utils.set_spmd_backend("partial_dtensor")
    parallel_dims = ParallelDims(
        dp_shard=spec.size("dp_shard"),
        dp_replicate=spec.size("dp_replicate"),
        cp=1,
        tp=spec.size("tp"),
        pp=1,
        ep=spec.size("ep"),
        world_size=spec.world_size,
        spmd_backend="partial_dtensor",
    )
    parallel_dims.build_mesh()
    model_config.update_from_config(config=config)

    for converter in left_out_converters(resolved):
        say(
            f"note: torchtitan trains {model} {resolved.name} with {converter} (float8 linears, "
            "which need torchao and an SM89+ GPU); ctc captures the bf16 step"
        )
    say(f"building {model} {resolved.name} on {spec} ({'fake' if fake else 'real'} tensors)")
    with torch.device("meta"), utils.set_default_dtype(TORCH_DTYPE_MAP[training.dtype]):
        built = model_config.build()
    built = config.model_spec.parallelize_fn(
        built,
        parallel_dims=parallel_dims,
        training=training,
        parallelism=parallelism,
        compile_config=config.compile,
        ac_config=config.activation_checkpoint,
        dump_folder=tempfile.gettempdir(),  # graph_trainer dumps debug graphs only when asked
    )
    torch.manual_seed(seed)
    with _materializing(fake), torch.no_grad():
        built.to_empty(device="cpu")
        if not fake:  # fake values are shapes only; initialising them would mean nothing
            built.init_weights(buffer_device=None)
    built.train()

    vocab = model_config.vocab_size
    batch_size, length = training.local_batch_size, training.seq_len
    generator = torch.Generator().manual_seed(seed + 1)
    tokens = torch.randint(0, vocab, (batch_size, length), generator=generator)
    labels = torch.randint(0, vocab, (batch_size, length), generator=generator)
    data_parallel = spec.size("dp_replicate") * spec.size("dp_shard")
    # An integer count, as torchtitan's trainer passes it: an IR captured here trains there.
    global_valid_tokens = torch.tensor(batch_size * length * data_parallel)
    positions = torch.arange(length).expand(batch_size, length).contiguous()  # i64, as there
    kwargs: dict[str, Any] = {"positions": positions}
    if resolved.attention == "flex":
        kwargs["attention_masks"] = built.get_attention_masks(positions=positions)
    loss_fn = CrossEntropyLoss(CrossEntropyLoss.Config(global_vocab_size=vocab))
    return BuiltStep(
        module=TrainStep(built, loss_fn),
        args=(tokens, labels, global_valid_tokens),
        kwargs=kwargs,
        layout=torchtitan_layout(spec, parallel_dims),
        flavor=resolved,
        mesh=spec,
        parallel_dims=parallel_dims,
    )
