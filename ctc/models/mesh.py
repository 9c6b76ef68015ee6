"""Device mesh specs (``dp_shard=2,tp=4``) and the checks that refuse a mesh up front.

A spec names parallelism degrees: ``dp_replicate`` and ``dp_shard`` (data parallel, replicated
and sharded; both >1 is hybrid sharding), ``tp`` (tensor parallel, with sequence and loss
parallel) and ``ep`` (expert parallel, which borrows its ranks from ``dp_shard x tp`` as
torchtitan does). The world is ``dp_replicate x dp_shard x tp`` ranks. Torch-free.
"""

from __future__ import annotations

import attrs

from ctc.errors import CtcError

# Canonical order: torchtitan's dense mesh is laid out (dp_replicate, dp_shard, tp), the
# expert mesh (dp_replicate, efsdp, ep).
MESH_DIMS = ("dp_replicate", "dp_shard", "tp", "ep")
DESCRIPTIONS = {
    "dp_replicate": "replicated data parallel",
    "dp_shard": "sharded data parallel (FSDP)",
    "tp": "tensor parallel",
    "ep": "expert parallel",
}


@attrs.frozen
class ModelDims:
    """The sizes a mesh must divide: attention heads, key/value heads, vocabulary, experts (0
    for a dense model), sequence length (split over tp by sequence parallelism); and, when
    known, the first dimensions of the parameters (``ctc.models.shapes.FlavorShape``): those
    sharded data parallelism splits alone, those it splits with tensor parallelism, and the
    routed experts' hidden size. A count of 0 means the model has none."""

    name: str
    heads: int
    kv_heads: int
    vocab: int
    experts: int
    seq_len: int
    fsdp_rows: tuple[tuple[str, int], ...] = ()
    fsdp_tp_rows: tuple[tuple[str, int], ...] = ()
    expert_hidden: int = 0


@attrs.frozen
class MeshSpec:
    """Parallelism degrees by dimension name, in canonical order; absent dimensions are 1."""

    sizes: tuple[tuple[str, int], ...]

    @classmethod
    def parse(cls, text: str) -> MeshSpec:
        entries: dict[str, int] = {}
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            name, sep, size_text = item.partition("=")
            name = name.strip()
            if not sep:
                raise CtcError(f"mesh entry '{item}' needs the form name=size, e.g. dp_shard=2")
            if name not in MESH_DIMS:
                raise CtcError(f"unknown mesh dimension '{name}' (known: {', '.join(MESH_DIMS)})")
            if name in entries:
                raise CtcError(f"mesh dimension '{name}' is given twice")
            try:
                size = int(size_text)
            except ValueError:
                raise CtcError(
                    f"mesh dimension {name} needs an integer size, got '{size_text}'"
                ) from None
            if size < 1:
                raise CtcError(f"mesh dimension {name} must be at least 1, got {size}")
            entries[name] = size
        if not entries:
            raise CtcError("the mesh is empty; give degrees such as dp_shard=2,tp=4")
        return cls(tuple((name, entries[name]) for name in MESH_DIMS if name in entries))

    def size(self, name: str) -> int:
        return dict(self.sizes).get(name, 1)

    @property
    def world_size(self) -> int:
        return self.size("dp_replicate") * self.size("dp_shard") * self.size("tp")

    @property
    def expert_shard(self) -> int:
        """``efsdp``: the sharded data parallel degree of expert weights, dp_shard x tp / ep."""
        return self.size("dp_shard") * self.size("tp") // self.size("ep")

    def ir_dims(self) -> list[tuple[str, int]]:
        """The IR mesh: the given dense dimensions, then ``efsdp`` and ``ep`` when ep > 1."""
        dims = [(name, size) for name, size in self.sizes if name != "ep"]
        if self.size("ep") > 1:
            if self.expert_shard > 1:
                dims.append(("efsdp", self.expert_shard))
            dims.append(("ep", self.size("ep")))
        return dims

    def __str__(self) -> str:
        return ",".join(f"{name}={size}" for name, size in self.sizes)

    def check(self, model: ModelDims | None = None, world_size: int | None = None) -> None:
        """Raises a CtcError naming the first dimension that cannot work, and why."""
        if world_size is not None and world_size != self.world_size:
            raise CtcError(
                f"mesh {self} spans {self.world_size} ranks (dp_replicate x dp_shard x tp), "
                f"but the world has {world_size}"
            )
        ep = self.size("ep")
        borrowed = self.size("dp_shard") * self.size("tp")
        if ep > 1 and borrowed % ep:
            raise CtcError(
                f"ep={ep} must divide dp_shard x tp = {borrowed}: expert parallelism borrows "
                "its ranks from sharded data parallel and tensor parallel"
            )
        if model is None:
            return
        if ep > 1 and not model.experts:
            raise CtcError(f"ep={ep} needs a model with experts, and {model.name} has none")
        for degree, count, name, what, why in self._divisions(model):
            if count and count % degree:
                raise CtcError(
                    f"{name}={degree} does not divide the {count} {what} of {model.name}: {why}"
                )

    def _divisions(self, model: ModelDims) -> list[tuple[int, int, str, str, str]]:
        """(degree, count, degree's name, what is counted, why it must divide), in the order
        a user should hear them."""
        tp, dp_shard, ep = self.size("tp"), self.size("dp_shard"), self.size("ep")
        divisions = [
            (tp, model.heads, "tp", "attention heads", _WHY["heads"]),
            (tp, model.kv_heads, "tp", "key/value heads", _WHY["kv_heads"]),
            (tp, model.vocab, "tp", "vocabulary entries", _WHY["vocab"]),
            (tp, model.seq_len, "tp", "sequence positions", _WHY["seq_len"]),
        ]
        if ep > 1:
            divisions.append((ep, model.experts, "ep", "experts", _WHY["experts"]))
        for what, size in model.fsdp_rows:
            divisions.append((dp_shard, size, "dp_shard", f"rows of the {what}", _WHY["rows"]))
        for what, size in model.fsdp_tp_rows:
            rows = f"rows of the {what}"
            divisions.append((dp_shard * tp, size, "dp_shard x tp", rows, _WHY["tp_rows"]))
        if ep == 1:
            return divisions  # the experts are then rows like any other (the router's count)
        efsdp = self.expert_shard
        if efsdp * ep <= model.experts:
            divisions.append(
                (efsdp * ep, model.experts, "efsdp x ep", "routed experts", _WHY["expert_shard"])
            )
        else:  # torchtitan then shards each expert's rows over efsdp instead
            rows = "rows of each routed expert"
            divisions.append((efsdp, model.expert_hidden, "efsdp", rows, _WHY["rows"]))
        return divisions


_WHY = {
    "heads": "each tensor-parallel rank computes whole heads",
    "kv_heads": "each tensor-parallel rank holds whole key/value heads",
    "vocab": "the embedding, output layer and loss are split by vocabulary",
    "seq_len": "sequence parallelism splits the sequence",
    "experts": "each expert-parallel rank holds whole experts",
    "rows": "sharded data parallelism (SimpleFSDP) splits every parameter evenly by rows",
    "tp_rows": "sharded data parallelism splits these rows evenly after tensor parallelism has",
    "expert_shard": "expert weights are sharded by expert over both",
}
