"""The types of IR values: tensors, scalars and none.

A tensor type is a dtype and a shape; strides are carried only where they differ from the
contiguous ones, because lowering must reproduce the exact layout of a captured value. A dimension
is an int or the name of a symbol (an unbacked size such as ``u0`` in expert-parallel
all-to-alls). Device is deliberately absent: one IR serves every rank and every target device.
"""

from __future__ import annotations

import re

import attrs

# Short dtype names, as printed. The map to torch dtypes lives at the torch edge (lowering).
DTYPES: tuple[str, ...] = (
    "f64",
    "f32",
    "f16",
    "bf16",
    "f8e4m3fn",
    "f8e4m3fnuz",
    "f8e5m2",
    "f8e5m2fnuz",
    "c64",
    "c128",
    "i64",
    "i32",
    "i16",
    "i8",
    "u8",
    "u16",
    "u32",
    "u64",
    "b8",
)

# Bytes per element; used by cost models and statistics.
DTYPE_BYTES: dict[str, int] = {
    "f64": 8,
    "f32": 4,
    "f16": 2,
    "bf16": 2,
    "f8e4m3fn": 1,
    "f8e4m3fnuz": 1,
    "f8e5m2": 1,
    "f8e5m2fnuz": 1,
    "c64": 8,
    "c128": 16,
    "i64": 8,
    "i32": 4,
    "i16": 2,
    "i8": 1,
    "u8": 1,
    "u16": 2,
    "u32": 4,
    "u64": 8,
    "b8": 1,
}

SCALAR_KINDS: tuple[str, ...] = ("int", "float", "bool")

# The largest dimension (or stride) the IR accepts: 2^48 is far above any real tensor (llama3
# 405B's embedding has 2.1e9 elements) and keeps byte counts and FLOPs exact in a float, so a
# mistyped size is refused instead of costing a step of 1e17 ms.
MAX_DIM = 2**48

_SYMBOL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

Dim = int | str


def contiguous_strides(shape: tuple[Dim, ...]) -> tuple[Dim, ...] | None:
    """Row-major strides of ``shape``, or None when a symbolic dimension makes them symbolic."""
    strides: list[int] = []
    running = 1
    for dim in reversed(shape):
        if not isinstance(dim, int):
            return None
        strides.append(running)
        running *= max(dim, 1)
    return tuple(reversed(strides))


def format_dim(dim: Dim) -> str:
    if isinstance(dim, int):
        return str(dim)
    if _SYMBOL.match(dim) and dim != "strides":  # after a comma, strides= starts the strides
        return dim
    return '"' + dim.replace("\\", "\\\\").replace('"', '\\"') + '"'


@attrs.frozen
class TensorType:
    """A tensor: ``f32[2,256]``; with non-contiguous strides ``f32[256,2, strides=[1,256]]``."""

    dtype: str
    shape: tuple[Dim, ...]
    strides: tuple[Dim, ...] | None = None

    @property
    def numel(self) -> int | None:
        """Element count, or None when a dimension is symbolic."""
        total = 1
        for dim in self.shape:
            if not isinstance(dim, int):
                return None
            total *= dim
        return total

    @property
    def nbytes(self) -> int | None:
        numel = self.numel
        if numel is None:
            return None
        return numel * DTYPE_BYTES.get(self.dtype, 4)

    def __str__(self) -> str:
        dims = ",".join(format_dim(d) for d in self.shape)
        if self.strides is None:
            return f"{self.dtype}[{dims}]"
        strides = ",".join(format_dim(s) for s in self.strides)
        return f"{self.dtype}[{dims}, strides=[{strides}]]"


@attrs.frozen
class ScalarType:
    """A Python scalar flowing through the graph (a symbolic size, an ``item()``): int, float, bool."""

    kind: str

    def __str__(self) -> str:
        return self.kind


@attrs.frozen
class NoneType:
    """The type of an absent value, e.g. the gradient of an input that needs none."""

    def __str__(self) -> str:
        return "none"


@attrs.frozen
class OpaqueType:
    """A non-tensor object the graph passes through, named by its kind: ``opaque<device_mesh>``
    (a DTensor's mesh as a script object), ``opaque<block_mask>``."""

    kind: str

    def __str__(self) -> str:
        return f"opaque<{self.kind}>"


Type = TensorType | ScalarType | NoneType | OpaqueType


def tensor(dtype: str, *shape: Dim, strides: tuple[Dim, ...] | None = None) -> TensorType:
    """Builds a tensor type, dropping strides equal to the contiguous ones (one canonical form)."""
    shape_tuple = tuple(shape)
    if strides is not None and tuple(strides) == contiguous_strides(shape_tuple):
        strides = None
    return TensorType(dtype, shape_tuple, None if strides is None else tuple(strides))


_OVER_MAX_DIM = f"exceeds 2^48 = {MAX_DIM}, the largest dimension ctc accepts"
_OUTSIDE_STRIDES = f"is outside 0..2^48 = {MAX_DIM}, the strides ctc accepts"


def type_problems(value_type: Type) -> list[str]:
    """What is malformed about a type built by hand (the parser cannot produce these)."""
    problems: list[str] = []
    if isinstance(value_type, TensorType):
        if value_type.dtype not in DTYPES:
            problems.append(f"unknown dtype '{value_type.dtype}' (known: {', '.join(DTYPES)})")
        for dim in value_type.shape:
            if isinstance(dim, int) and dim < 0:
                problems.append(f"negative dimension {dim} in {value_type}")
            elif isinstance(dim, int) and dim > MAX_DIM:
                problems.append(f"dimension {dim} in {value_type} {_OVER_MAX_DIM}")
        for stride in value_type.strides or ():
            if isinstance(stride, int) and not 0 <= stride <= MAX_DIM:
                problems.append(f"stride {stride} in {value_type} {_OUTSIDE_STRIDES}")
        if value_type.strides is not None:
            if len(value_type.strides) != len(value_type.shape):
                problems.append(
                    f"{value_type} has {len(value_type.strides)} strides for "
                    f"{len(value_type.shape)} dimensions"
                )
            elif value_type.strides == contiguous_strides(value_type.shape):
                problems.append(f"{value_type} spells out contiguous strides; omit them")
    elif isinstance(value_type, ScalarType) and value_type.kind not in SCALAR_KINDS:
        problems.append(f"unknown scalar kind '{value_type.kind}'")
    elif isinstance(value_type, OpaqueType) and not _SYMBOL.match(value_type.kind):
        problems.append(f"opaque kind '{value_type.kind}' must be an identifier")
    return problems
