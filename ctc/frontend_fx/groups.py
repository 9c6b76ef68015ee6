"""Process groups <-> mesh dimensions.

A captured graph names the process group of each functional collective by an opaque string
(``'43'``), assigned in process-group creation order. The IR names it by mesh dimension(s) instead
(``group = "dp_shard"``, or ``group = ["dp_replicate", "dp_shard"]`` for a flattened group) so
that one IR serves every rank and every run. ``MeshLayout`` knows the IR mesh (ordered dimension
names and sizes, the module's ``mesh`` attribute) and one or more rank grids (device meshes that
factor the world into named axes) and resolves a group name:
  1. by name: the group of a grid axis (``DeviceMesh.get_group``) whose name matches;
  2. by ranks: the grid axes whose combined group (around this rank) holds exactly the group's
     ranks, first grid first, fewest axes first.
``group_names()`` is the inverse map (dimensions -> group name) that lowering uses to put
collectives back on live process groups.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ctc.errors import CtcError


@attrs.frozen
class RankGrid:
    """One factorization of the ranks into axes: for each axis, the IR mesh dimensions it stands
    for (empty for an axis outside the IR mesh), its size and its process group name; and the
    rank at each grid position, row-major."""

    axes: tuple[tuple[str, ...], ...]
    sizes: tuple[int, ...]
    ranks: tuple[int, ...]
    group_names: tuple[str | None, ...]

    def group_of(self, axes: Sequence[int], rank: int) -> frozenset[int] | None:
        """The ranks that share ``rank``'s position on every axis outside ``axes``."""
        if rank not in self.ranks:
            return None
        position = _unravel(self.ranks.index(rank), self.sizes)
        members = set()
        for flat, candidate in enumerate(self.ranks):
            other = _unravel(flat, self.sizes)
            if all(other[i] == position[i] for i in range(len(self.sizes)) if i not in axes):
                members.add(candidate)
        return frozenset(members)


def _unravel(flat: int, sizes: tuple[int, ...]) -> tuple[int, ...]:
    position = []
    for size in reversed(sizes):
        position.append(flat % size)
        flat //= size
    return tuple(reversed(position))


class MeshLayout:
    """The IR mesh and the rank grids that resolve process groups to its dimensions."""

    def __init__(
        self,
        dims: Sequence[tuple[str, int]],
        grids: Sequence[RankGrid],
        rank: int = 0,
    ) -> None:
        self.dims = tuple((str(name), int(size)) for name, size in dims)
        self.grids = tuple(grids)
        self.rank = rank
        self._resolved: dict[str, tuple[str, ...]] = {}
        names = [name for name, _ in self.dims]
        if len(set(names)) != len(names):
            raise CtcError(f"mesh dimensions repeat a name: {', '.join(names)}")

    def mesh_attribute(self) -> list[list[object]]:
        """The module attribute ``mesh = [["dp_shard", 2], ["tp", 4]]``."""
        return [[name, size] for name, size in self.dims]

    def size_of(self, dims: Sequence[str]) -> int:
        sizes = dict(self.dims)
        total = 1
        for dim in dims:
            total *= sizes[dim]
        return total

    def resolve(self, group_name: str, ranks: frozenset[int] | None = None) -> tuple[str, ...]:
        """The mesh dimensions of process group ``group_name``; ``ranks`` (this rank's group
        members) is looked up from the live process group when not given."""
        if group_name in self._resolved:
            return self._resolved[group_name]
        dims = self._by_name(group_name)
        if dims is None:
            if ranks is None:
                ranks = process_group_ranks(group_name)
            dims = self._by_ranks(ranks)
            if dims is None:
                mesh = ", ".join(f"{name}={size}" for name, size in self.dims) or "none"
                raise CtcError(
                    f"process group '{group_name}' (ranks {sorted(ranks)}) is no dimension or "
                    f"combination of dimensions of the mesh ({mesh})"
                )
        self._resolved[group_name] = dims
        return dims

    def group_names(self) -> dict[tuple[str, ...], str]:
        """Mesh dimensions -> a process group name over them: the groups resolved so far (those
        the captured graph used) first, then each grid axis's own group."""
        inverse: dict[tuple[str, ...], str] = {}
        for name, dims in self._resolved.items():
            inverse.setdefault(dims, name)
        for grid in self.grids:
            for dims, axis_group in zip(grid.axes, grid.group_names, strict=True):
                if dims and axis_group is not None:
                    inverse.setdefault(dims, axis_group)
        return inverse

    def _by_name(self, group_name: str) -> tuple[str, ...] | None:
        for grid in self.grids:
            for dims, name in zip(grid.axes, grid.group_names, strict=True):
                if name == group_name and dims:
                    return dims
        return None

    def _by_ranks(self, ranks: frozenset[int]) -> tuple[str, ...] | None:
        for grid in self.grids:
            usable = [i for i, dims in enumerate(grid.axes) if dims]
            for count in range(1, len(usable) + 1):
                for axes in itertools.combinations(usable, count):
                    if grid.group_of(axes, self.rank) == ranks:
                        return tuple(dim for i in axes for dim in grid.axes[i])
        return None


def process_group_ranks(group_name: str) -> frozenset[int]:
    import torch.distributed as dist
    from torch.distributed.distributed_c10d import _resolve_process_group

    try:
        group = _resolve_process_group(group_name)  # type: ignore[arg-type]
    except Exception as error:
        raise CtcError(f"no live process group named '{group_name}': {error}") from None
    return frozenset(dist.get_process_group_ranks(group))


def grid_of_device_mesh(mesh: Any, rename: Mapping[str, Sequence[str]] | None = None) -> RankGrid:
    """A rank grid from a ``DeviceMesh``; ``rename`` maps its dimension names to IR mesh
    dimensions (a name missing from ``rename`` stands for itself)."""
    names = mesh.mesh_dim_names or tuple(f"dim{i}" for i in range(mesh.ndim))
    axes = tuple(tuple((rename or {}).get(name, (name,))) for name in names)
    group_names: list[str | None] = []
    for index in range(mesh.ndim):
        try:
            group_names.append(mesh.get_group(index).group_name)
        except Exception:  # a dimension without a process group of its own
            group_names.append(None)
    return RankGrid(
        axes=axes,
        sizes=tuple(int(s) for s in mesh.mesh.shape),
        ranks=tuple(int(r) for r in mesh.mesh.flatten().tolist()),
        group_names=tuple(group_names),
    )


def layout_of_device_mesh(mesh: Any) -> MeshLayout:
    """The layout of a single ``DeviceMesh`` (its root mesh, so that sub-meshes such as
    ``mesh["tp"]`` resolve to their dimension): IR dimensions named as the mesh names them."""
    import torch.distributed as dist

    root = mesh._get_root_mesh() if hasattr(mesh, "_get_root_mesh") else mesh
    names = root.mesh_dim_names
    if not names:
        raise CtcError("the device mesh has no dimension names; name them (mesh_dim_names=...)")
    dims = [(name, int(size)) for name, size in zip(names, root.mesh.shape, strict=True)]
    rank = dist.get_rank() if dist.is_initialized() else 0
    return MeshLayout(dims, [grid_of_device_mesh(root)], rank=rank)
